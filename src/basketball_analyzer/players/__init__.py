"""Who is who: jersey numbers read on tracks (numbers), tracks joined into players (joining, store), what a person
fixes (edit) and a roster that names them (roster)."""
