"""Workers: one `Worker` (`worker.base`) drives every job; `worker.local` and `worker.cloud` pick its queue."""
