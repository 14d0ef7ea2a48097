"""The bucket job queue: storage (S3/R2), manifests and their state machine, claims and leases, results.

Heavy imports (boto3, pyarrow) stay inside the functions that need them.
"""
