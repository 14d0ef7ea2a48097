"""What a coach asks of stored tracks: teams, court positions, distance and speed, possession."""
