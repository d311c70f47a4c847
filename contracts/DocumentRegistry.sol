// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IDocumentRegistry} from "./interfaces/IDocumentRegistry.sol";
import {IIssuerRegistry} from "./interfaces/IIssuerRegistry.sol";

/**
 * @title DocumentRegistry
 * @notice Anchors the Merkle roots of document batches and keeps the status of single documents per
 * (root, leaf). Who may do what is asked of the issuer registry.
 * @dev An anchor takes two storage slots (account, time and block packed in one; the document type in the
 * other). The municipality is not stored: it follows from the account, which never changes municipality.
 */
contract DocumentRegistry is IDocumentRegistry {
    IIssuerRegistry private immutable _issuerRegistry;

    mapping(bytes32 root => Anchor) private _anchors;
    mapping(bytes32 root => mapping(bytes32 leaf => StatusEntry)) private _statuses;

    constructor(IIssuerRegistry registry) {
        _issuerRegistry = registry;
    }

    // ---------------------------------------------------------------------------------------------
    // Issuer accounts
    // ---------------------------------------------------------------------------------------------

    /**
     * @inheritdoc IDocumentRegistry
     * @dev The issuer registry is asked once per transaction, whatever the number of roots; its custom
     * errors (IssuerRegistry...) bubble up unchanged.
     */
    function anchor(bytes32 docType, bytes32[] calldata roots) external {
        bytes8 ags = _issuerRegistry.authorizeAnchor(msg.sender, docType);
        if (roots.length == 0) revert DocumentRegistryEmptyBatch();
        uint48 timestamp = uint48(block.timestamp);
        uint48 blockNumber = uint48(block.number);
        for (uint256 i = 0; i < roots.length; ++i) {
            bytes32 root = roots[i];
            if (root == bytes32(0)) revert DocumentRegistryZeroRoot();
            Anchor storage a = _anchors[root];
            // Also catches a root repeated within `roots`: its first copy is stored by now.
            if (a.account != address(0)) revert DocumentRegistryRootAlreadyAnchored(root);
            a.account = msg.sender;
            a.timestamp = timestamp;
            a.blockNumber = blockNumber;
            a.docType = docType;
            emit RootAnchored(root, ags, msg.sender, docType);
        }
    }

    /**
     * @inheritdoc IDocumentRegistry
     * @dev A suspended document may be revoked. Checks in this order: caller (issuer registry), root
     * anchored, same municipality, proof, status.
     */
    function revoke(bytes32 root, bytes32 targetHash, bytes32[] calldata proof, uint16 reason) external {
        (bytes32 leaf, StatusEntry storage entry) = _authorizeStatusChange(root, targetHash, proof);
        if (entry.status == DocumentStatus.Revoked) revert DocumentRegistryAlreadyRevoked(root, leaf);
        _setStatus(entry, DocumentStatus.Revoked, reason);
        emit DocumentRevoked(root, leaf, msg.sender, reason);
    }

    /**
     * @inheritdoc IDocumentRegistry
     * @dev Requirements as {revoke}; a revoked document gives {DocumentRegistryAlreadyRevoked}.
     * Emits {DocumentSuspended}.
     */
    function suspend(bytes32 root, bytes32 targetHash, bytes32[] calldata proof, uint16 reason) external {
        (bytes32 leaf, StatusEntry storage entry) = _authorizeStatusChange(root, targetHash, proof);
        DocumentStatus status = entry.status;
        if (status == DocumentStatus.Revoked) revert DocumentRegistryAlreadyRevoked(root, leaf);
        if (status == DocumentStatus.Suspended) revert DocumentRegistryAlreadySuspended(root, leaf);
        _setStatus(entry, DocumentStatus.Suspended, reason);
        emit DocumentSuspended(root, leaf, msg.sender, reason);
    }

    /**
     * @inheritdoc IDocumentRegistry
     * @dev Requirements as {revoke}; a revoked document gives {DocumentRegistryAlreadyRevoked}, one never
     * suspended {DocumentRegistryNotSuspended}. The entry goes back to None with reason 0, keeping who
     * reinstated it and when.
     * Emits {DocumentReinstated}.
     */
    function reinstate(bytes32 root, bytes32 targetHash, bytes32[] calldata proof) external {
        (bytes32 leaf, StatusEntry storage entry) = _authorizeStatusChange(root, targetHash, proof);
        DocumentStatus status = entry.status;
        if (status == DocumentStatus.Revoked) revert DocumentRegistryAlreadyRevoked(root, leaf);
        if (status != DocumentStatus.Suspended) revert DocumentRegistryNotSuspended(root, leaf);
        _setStatus(entry, DocumentStatus.None, 0);
        emit DocumentReinstated(root, leaf, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Views (never revert)
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function leafOf(bytes32 targetHash) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), targetHash));
    }

    /// @inheritdoc IDocumentRegistry
    function issuerRegistry() external view returns (address) {
        return address(_issuerRegistry);
    }

    /// @inheritdoc IDocumentRegistry
    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    /// @inheritdoc IDocumentRegistry
    function statusOf(bytes32 root, bytes32 targetHash) external view returns (StatusEntry memory) {
        return _statuses[root][leafOf(targetHash)];
    }

    /// @inheritdoc IDocumentRegistry
    function verification(bytes32 root, bytes32 targetHash) external view returns (Verification memory v) {
        v.root = root;
        v.leaf = leafOf(targetHash);
        Anchor memory a = _anchors[root];
        if (a.account == address(0)) return v;

        v.anchored = true;
        v.account = a.account;
        v.docType = a.docType;
        v.anchoredAt = a.timestamp;
        v.anchorBlock = a.blockNumber;

        IIssuerRegistry.IssuerAccount memory acc = _issuerRegistry.issuerAccount(a.account);
        v.ags = acc.ags;
        v.accountRetiredAt = acc.retiredAt;
        v.accountCompromisedSince = acc.compromisedSince;

        IIssuerRegistry.Municipality memory m = _issuerRegistry.municipality(acc.ags);
        v.municipalityName = m.name;
        v.municipalityActive = m.active;
        v.docTypeAllowedNow = _issuerRegistry.isDocTypeAllowed(acc.ags, a.docType);

        StatusEntry memory s = _statuses[root][v.leaf];
        v.status = s.status;
        v.reason = s.reason;
        v.statusChangedAt = s.changedAt;
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /**
     * @dev The checks every status change shares. Returns the document's leaf and its status entry.
     * The municipality is compared, not the account, so that any active account of the anchoring
     * municipality may act, also one added after the anchoring account was retired.
     */
    function _authorizeStatusChange(
        bytes32 root,
        bytes32 targetHash,
        bytes32[] calldata proof
    ) private view returns (bytes32 leaf, StatusEntry storage entry) {
        bytes8 callerAgs = _issuerRegistry.authorizeStatusChange(msg.sender);
        address anchoringAccount = _anchors[root].account;
        if (anchoringAccount == address(0)) revert DocumentRegistryRootNotAnchored(root);
        // The anchoring account's municipality; no second call when it is the caller itself.
        bytes8 anchorAgs = anchoringAccount == msg.sender
            ? callerAgs
            : _issuerRegistry.issuerAccount(anchoringAccount).ags;
        if (callerAgs != anchorAgs) revert DocumentRegistryWrongMunicipality(msg.sender, anchorAgs, callerAgs);
        leaf = leafOf(targetHash);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert DocumentRegistryInvalidProof(root, leaf);
        entry = _statuses[root][leaf];
    }

    function _setStatus(StatusEntry storage entry, DocumentStatus status, uint16 reason) private {
        entry.status = status;
        entry.reason = reason;
        entry.changedAt = uint48(block.timestamp);
        entry.changedBy = msg.sender;
    }
}
