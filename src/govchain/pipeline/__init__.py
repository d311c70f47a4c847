"""The anchoring pipeline: pending documents batched into Merkle trees and anchored on the ledger by
workers in a process of their own. It uses the services (issuer signers) and the adapters, and is
imported only by the composition root (`govchain.bootstrap`) and the entrypoints."""
