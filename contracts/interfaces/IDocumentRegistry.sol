// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title IDocumentRegistry
 * @notice Anchors Merkle roots of document batches and keeps the status of single documents inside a
 * batch. No personal data: only salted hashes reach the chain.
 * @dev A leaf is `keccak256(abi.encodePacked(bytes1(0x00), targetHash))`: a 33-byte preimage, while an
 * inner node (OpenZeppelin MerkleProof, sorted pairs) hashes 64 bytes, so an inner node can never pass
 * as a document. The registry computes the leaf itself from the document's targetHash.
 */
interface IDocumentRegistry {
    enum DocumentStatus {
        None, // never changed: as issued
        Suspended,
        Revoked
    }

    struct Anchor {
        address account; // issuer account that anchored the root; address(0) if not anchored
        uint48 timestamp; // block timestamp of the anchoring transaction
        uint48 blockNumber;
        bytes32 docType;
    }

    struct StatusEntry {
        DocumentStatus status;
        uint16 reason;
        uint48 changedAt;
        address changedBy;
    }

    /// @notice Everything a verifier needs about one document in one call.
    struct Verification {
        bool anchored;
        bytes32 root;
        bytes32 leaf;
        bytes8 ags;
        string municipalityName;
        bool municipalityActive;
        address account;
        bytes32 docType;
        uint48 anchoredAt;
        uint48 anchorBlock;
        uint48 accountRetiredAt;
        uint48 accountCompromisedSince;
        bool docTypeAllowedNow;
        DocumentStatus status;
        uint16 reason;
        uint48 statusChangedAt;
    }

    error DocumentRegistryEmptyBatch();
    error DocumentRegistryZeroRoot();
    error DocumentRegistryRootAlreadyAnchored(bytes32 root);
    error DocumentRegistryRootNotAnchored(bytes32 root);
    error DocumentRegistryInvalidProof(bytes32 root, bytes32 leaf);
    /// @notice The caller's municipality is not the one that anchored the root.
    error DocumentRegistryWrongMunicipality(address account, bytes8 expected, bytes8 actual);
    error DocumentRegistryAlreadyRevoked(bytes32 root, bytes32 leaf);
    error DocumentRegistryNotSuspended(bytes32 root, bytes32 leaf);
    error DocumentRegistryAlreadySuspended(bytes32 root, bytes32 leaf);

    event RootAnchored(bytes32 indexed root, bytes8 indexed ags, address indexed account, bytes32 docType);
    event DocumentRevoked(bytes32 indexed root, bytes32 indexed leaf, address indexed account, uint16 reason);
    event DocumentSuspended(bytes32 indexed root, bytes32 indexed leaf, address indexed account, uint16 reason);
    event DocumentReinstated(bytes32 indexed root, bytes32 indexed leaf, address indexed account);

    /**
     * @notice Anchors one or more Merkle roots of documents of `docType`.
     * Requirements: the issuer registry authorises the caller for `docType`; `roots` is not empty; no root
     * is zero or anchored already (also within the batch).
     * Emits {RootAnchored} for each root.
     */
    function anchor(bytes32 docType, bytes32[] calldata roots) external;

    /**
     * @notice Revokes one document of a batch for good.
     * Requirements: the caller is an active account of the municipality that anchored `root`; the proof
     * leads from the document's leaf to `root`; not revoked already.
     * Emits {DocumentRevoked}.
     */
    function revoke(bytes32 root, bytes32 targetHash, bytes32[] calldata proof, uint16 reason) external;

    /// @notice Suspends one document (reversible). Same requirements as revoke; not suspended or revoked.
    function suspend(bytes32 root, bytes32 targetHash, bytes32[] calldata proof, uint16 reason) external;

    /// @notice Lifts a suspension. Same requirements as revoke; currently suspended.
    function reinstate(bytes32 root, bytes32 targetHash, bytes32[] calldata proof) external;

    /// @notice The leaf the registry derives from a document's targetHash.
    function leafOf(bytes32 targetHash) external pure returns (bytes32);

    function issuerRegistry() external view returns (address);

    /// @notice Never reverts: a root that is not anchored gives account == address(0).
    function anchorOf(bytes32 root) external view returns (Anchor memory);

    /// @notice Never reverts.
    function statusOf(bytes32 root, bytes32 targetHash) external view returns (StatusEntry memory);

    /**
     * @notice Everything a verifier needs for the document with `targetHash` under `root`, in one call.
     * Never reverts: `anchored` is false for an unknown root. The proof itself is checked off-chain by the
     * verifier (and on-chain by every status change).
     */
    function verification(bytes32 root, bytes32 targetHash) external view returns (Verification memory);
}
