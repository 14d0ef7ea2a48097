"""Workers: the local one drains `detection_jobs`; the cloud one drains the bucket (`worker.cloud`)."""
