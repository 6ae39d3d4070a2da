"""CSV imports of contacts: the streamed upload, the background job, progress, the errors CSV."""
