"""CloudStorage against a real SeaweedFS server: transfers, conditional writes, pagination, errors."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from cloudutil import count_requests

from basketball_analyzer.cli import cli
from basketball_analyzer.cloud.jobfiles import JobFiles, manifest_key, pending_key
from basketball_analyzer.cloud.manifest import JobManifest, new_job_id
from basketball_analyzer.cloud.storage import CloudStorage, ConditionFailed
from basketball_analyzer.exceptions import ManifestError, StorageError


def test_video_round_trip_multipart_with_progress(storage, tmp_path, monkeypatch):
    from basketball_analyzer.cloud import storage as storage_mod

    monkeypatch.setattr(storage_mod, "MULTIPART_CHUNK", 5 * 1024 * 1024)  # S3's minimum part size
    src = tmp_path / "game.MKV"
    src.write_bytes(bytes(range(256)) * (12 * 1024 * 1024 // 256))  # 12 MiB: three parts
    job_id = new_job_id()
    seen: list[tuple[int, int]] = []
    counts = count_requests(storage)
    key = JobFiles(storage).upload_video(job_id, src, on_progress=lambda d, t: seen.append((d, t)))
    assert key == f"jobs/{job_id}/video.mkv"
    assert counts.get("UploadPart", 0) == 3 and counts.get("CompleteMultipartUpload") == 1
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)
    dest = JobFiles(storage).download_video(key, tmp_path / "back.mkv")
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.mkv", "game.MKV"]  # no temporary left


def test_manifest_writes_are_conditional(storage):
    files = JobFiles(storage)
    m = JobManifest(job_id=new_job_id(), video_id=1)
    etag = files.put_manifest(m, etag=None)
    with pytest.raises(ConditionFailed):
        files.put_manifest(m, etag=None)
    newer = m.transition("processing", worker_id="a")
    etag2 = files.put_manifest(newer, etag=etag)
    with pytest.raises(ConditionFailed):  # written from a stale read: loses
        files.put_manifest(m.transition("cancelled"), etag=etag)
    got, got_etag = files.get_manifest(m.job_id)
    assert got == newer and got_etag == etag2
    assert files.get_manifest(new_job_id()) is None


def test_malformed_manifest_is_reported(storage):
    job_id = new_job_id()
    storage.put_bytes(manifest_key(job_id), b'{"schema_version": 99}')
    with pytest.raises(ManifestError, match="schema version 99"):
        JobFiles(storage).get_manifest(job_id)


def test_listing_paginates_past_1000_keys(storage):
    ids = sorted(new_job_id() for _ in range(1050))
    for job_id in ids:
        storage.put_bytes(manifest_key(job_id), b"{}")
    counts = count_requests(storage)
    assert JobFiles(storage).list_job_ids() == ids
    assert counts == {"ListObjectsV2": 2}


def test_progress_results_and_delete(storage, tmp_path):
    files = JobFiles(storage)
    job_id = new_job_id()
    assert files.get_progress(job_id) is None
    files.update_progress(job_id, 50, 120, "w1", 1)
    assert files.get_progress(job_id)["frames_processed"] == 50
    res = tmp_path / "r.parquet"
    res.write_bytes(b"PAR1 not really")
    key = files.upload_results(job_id, res, token="0123456789abcdef")
    assert key == f"jobs/{job_id}/results.0123456789abcdef.parquet"
    assert files.download_results(job_id, tmp_path / "out", key=key).read_bytes() == res.read_bytes()
    with pytest.raises(StorageError, match="not one of this job's files"):
        files.download_results(job_id, tmp_path / "x", key=f"jobs/{new_job_id()}/results.1.parquet")
    storage.put_bytes(pending_key(job_id), b"")
    assert files.delete_job_files(job_id) == 2
    assert list(storage.list_objects(f"jobs/{job_id}/")) == []
    assert files.list_pending() == []


def test_wrong_credentials_give_one_clear_line_without_the_secret(s3_server, cloud_bucket):
    secret = "wrong-secret-value-123456"
    bad = CloudStorage(endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key, secret_key=secret,
                       bucket=cloud_bucket, max_attempts=1)
    with pytest.raises(StorageError) as err:
        bad.check()
    text = str(err.value)
    assert "refused our credentials" in text and "R2_SECRET_ACCESS_KEY" in text
    assert secret not in text and "\n" not in text


def test_unreachable_endpoint_is_a_clear_error(cloud_bucket):
    from basketball_analyzer.cloud.server import free_ports

    port = free_ports(1)[0]
    bad = CloudStorage(endpoint_url=f"http://127.0.0.1:{port}", access_key="k", secret_key="s",
                       bucket=cloud_bucket, max_attempts=1, connect_timeout=1)
    with pytest.raises(StorageError, match="cannot reach"):
        list(bad.list_objects("queue/"))


def test_cli_wrong_credentials_and_missing_settings(cloud_env, monkeypatch):
    from basketball_analyzer.config import get_settings

    secret = "not-the-secret-987654321"
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", secret)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["cloud", "status"])
    assert result.exit_code == 1
    assert "refused our credentials" in result.output and secret not in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1

    for name in ("R2_ENDPOINT_URL", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    for args in (["cloud", "status"], ["worker", "--cloud", "--once"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        last = result.output.strip().splitlines()[-1]
        assert "R2_ACCESS_KEY_ID" in last and "R2_SECRET_ACCESS_KEY" in last and "R2_ENDPOINT_URL" in last


def test_credentials_in_the_endpoint_are_refused_without_printing_them():
    from basketball_analyzer.exceptions import ConfigError

    with pytest.raises(ConfigError) as err:
        CloudStorage(endpoint_url="https://ak:very-secret-pw@acct.r2.cloudflarestorage.com", access_key="k",
                     secret_key="s", bucket="b")
    assert "very-secret-pw" not in str(err.value) and "https://ak:***@acct" in str(err.value)


def test_multipart_uploads_are_listed_and_aborted(storage):
    client = storage.client
    key = f"jobs/{new_job_id()}/video.mp4"
    upload = client.create_multipart_upload(Bucket=storage.bucket, Key=key)
    client.upload_part(Bucket=storage.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1,
                       Body=b"x" * (5 * 1024 * 1024))
    found = storage.list_multipart_uploads()
    assert [(u.key, u.upload_id) for u in found] == [(key, upload["UploadId"])]
    assert abs(found[0].initiated - storage.now()) < 120
    storage.abort_multipart_upload(found[0])
    storage.abort_multipart_upload(found[0])  # already gone: fine
    assert storage.list_multipart_uploads() == []


def test_object_size_and_capped_reads(storage):
    storage.put_bytes("a/b", b"x" * 2000)
    assert storage.object_size("a/b") == 2000 and storage.object_size("a/none") is None
    assert storage.get_bytes_capped("a/b", 2000)[0] == b"x" * 2000
    assert storage.get_bytes_capped("a/none", 10) is None
    with pytest.raises(StorageError, match="a/b is 2,000 bytes, over the 1,999-byte limit"):
        storage.get_bytes_capped("a/b", 1999)


def test_bucket_exists(storage, s3_server):
    assert storage.bucket_exists() is True
    other = CloudStorage(endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                         secret_key=s3_server.secret_key, bucket="never-made-0")
    assert other.bucket_exists() is False
    with pytest.raises(StorageError, match="bucket 'never-made-0' does not exist at http://127.0.0.1:.*create it"):
        other.check()
