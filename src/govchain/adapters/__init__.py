"""Adapters to the outside world: the chain (embedded py-evm or a JSON-RPC node), the ledger's
contract bindings and status index, the database, the keystores and files. They speak the domain's
value types; the services, the pipeline and the composition root import them, never the reverse."""
