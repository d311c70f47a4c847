"""The domain: documents, hashing, Merkle trees, verification, use cases, schedules and the shared
vocabulary. Pure: no I/O beyond reading the use-case folders, no web framework, no database, no
chain client. Every other layer may import it; it imports only `govchain.errors`."""
