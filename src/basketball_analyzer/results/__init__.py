"""A run's results: the Parquet results file (`format`) and the one gate into the database (`ingest`).

Every run, local or in the cloud, streams its boxes to a results file and stores them through
`ingest.import_results_file`. Heavy imports (pyarrow) stay inside the functions that need them.
"""
