"""One module per client library: its patch points and extractors, nothing generic."""
