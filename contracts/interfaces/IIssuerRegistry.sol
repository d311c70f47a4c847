// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title IIssuerRegistry
 * @notice The permissioned part of govchain: which municipality may anchor which document types,
 * through which accounts. The Land authority (REGISTRAR_ROLE) admits municipalities, changes their
 * document types, suspends and reactivates them, adds issuer accounts, retires them and marks them
 * compromised since a point in time. It also registers the municipalities' credential-signing keys
 * (P-256) with the same lifecycle, so that a municipality's DID document is a view of the chain.
 * @dev A municipality is keyed by its AGS (Amtlicher Gemeindeschlüssel) as 8 ASCII digits in a bytes8.
 * Document types are keccak256 of the use-case id (e.g. keccak256("gefaehrlicher-hund")).
 * An account belongs to exactly one municipality for ever: it can be retired or compromised, never moved.
 * A signing key likewise: it is identified by keccak256 of its 33-byte compressed SEC1 encoding.
 */
interface IIssuerRegistry {
    enum AccountState {
        Unknown,
        Active,
        Retired
    }

    struct Municipality {
        string name;
        bool admitted;
        bool active;
        uint48 admittedAt;
    }

    struct IssuerAccount {
        bytes8 ags;
        AccountState state;
        uint48 addedAt;
        uint48 retiredAt; // 0 while active
        uint48 compromisedSince; // 0 = never marked compromised
    }

    /// @dev A credential-signing key (P-256); `state` reuses the accounts' lifecycle.
    struct SigningKey {
        bytes8 ags;
        AccountState state;
        uint48 addedAt;
        uint48 retiredAt; // 0 while active
        uint48 compromisedSince; // 0 = never marked compromised
        bytes publicKey; // 33 bytes, compressed SEC1 (0x02 or 0x03, then x); empty if unknown
    }

    /// @notice The AGS is not 8 ASCII digits.
    error IssuerRegistryInvalidAgs(bytes8 ags);
    /// @notice The name is empty.
    error IssuerRegistryEmptyName();
    /// @notice A municipality with this AGS has been admitted already.
    error IssuerRegistryMunicipalityExists(bytes8 ags);
    /// @notice No municipality with this AGS has been admitted.
    error IssuerRegistryUnknownMunicipality(bytes8 ags);
    /// @notice The municipality is suspended (for anchoring) or already active (for reactivation).
    error IssuerRegistryMunicipalityNotActive(bytes8 ags);
    error IssuerRegistryMunicipalityAlreadyActive(bytes8 ags);
    /// @notice The account is the zero address or already belongs to a municipality (maybe retired).
    error IssuerRegistryAccountExists(address account);
    error IssuerRegistryInvalidAccount(address account);
    /// @notice The account is not an issuer account of any municipality.
    error IssuerRegistryUnknownAccount(address account);
    /// @notice The account was retired (no new anchors or status changes).
    error IssuerRegistryAccountRetired(address account);
    /// @notice The account was marked compromised.
    error IssuerRegistryAccountCompromised(address account, uint48 since);
    /// @notice The compromise time is 0, lies in the future or is not earlier than the time marked before.
    error IssuerRegistryInvalidCompromiseTime(uint48 since);
    /// @notice The municipality may not issue this document type.
    error IssuerRegistryDocTypeNotAllowed(bytes8 ags, bytes32 docType);
    /// @notice The public key is not 33 bytes starting with 0x02 or 0x03 (compressed SEC1).
    error IssuerRegistryInvalidSigningKey(bytes publicKey);
    /// @notice The signing key has been added before (to this or another municipality; maybe retired).
    error IssuerRegistrySigningKeyExists(bytes32 keyId);
    /// @notice No signing key with this id has been added.
    error IssuerRegistryUnknownSigningKey(bytes32 keyId);
    /// @notice The signing key was retired already.
    error IssuerRegistrySigningKeyRetired(bytes32 keyId);

    event MunicipalityAdmitted(bytes8 indexed ags, string name);
    event MunicipalitySuspended(bytes8 indexed ags);
    event MunicipalityReactivated(bytes8 indexed ags);
    event DocTypeAllowed(bytes8 indexed ags, bytes32 indexed docType);
    event DocTypeDisallowed(bytes8 indexed ags, bytes32 indexed docType);
    event AccountAdded(bytes8 indexed ags, address indexed account);
    event AccountRetired(bytes8 indexed ags, address indexed account);
    event AccountCompromised(bytes8 indexed ags, address indexed account, uint48 since);
    event SigningKeyAdded(bytes8 indexed ags, bytes32 indexed keyId, bytes publicKey);
    event SigningKeyRetired(bytes8 indexed ags, bytes32 indexed keyId);
    event SigningKeyCompromised(bytes8 indexed ags, bytes32 indexed keyId, uint48 since);

    /**
     * @notice Admits a municipality with its first issuer accounts and document types.
     * Requirements: caller has REGISTRAR_ROLE; AGS is 8 ASCII digits and new; name not empty;
     * every account new and non-zero.
     * Emits {MunicipalityAdmitted}, then {AccountAdded} and {DocTypeAllowed} for each entry.
     */
    function admitMunicipality(
        bytes8 ags,
        string calldata name,
        address[] calldata accounts,
        bytes32[] calldata docTypes
    ) external;

    /// @notice Replaces the set of document types a municipality may issue. Emits one event per change.
    function setDocTypes(bytes8 ags, bytes32[] calldata docTypes) external;

    function suspendMunicipality(bytes8 ags) external;

    function reactivateMunicipality(bytes8 ags) external;

    function addAccount(bytes8 ags, address account) external;

    /// @notice Retires an account: it can no longer anchor or change status; its earlier anchors stay valid.
    function retireAccount(address account) external;

    /**
     * @notice Marks an account compromised since `since` (unix seconds, not in the future). Anchors made
     * by it at or after `since` fail verification; earlier ones stay valid. The account can do nothing more.
     * A later call may move `since` earlier, never later.
     */
    function markCompromised(address account, uint48 since) external;

    /**
     * @notice Registers a credential-signing key (P-256, 33-byte compressed SEC1 point) of a
     * municipality and returns its id, keccak256(publicKey). Only the length and the prefix byte are
     * checked here, not that the point lies on the curve.
     * Requirements: caller has REGISTRAR_ROLE; the municipality is admitted (it may be suspended);
     * `publicKey` is 33 bytes starting with 0x02 or 0x03; the key has never been added before.
     * Emits {SigningKeyAdded}.
     */
    function addSigningKey(bytes8 ags, bytes calldata publicKey) external returns (bytes32 keyId);

    /// @notice Retires a signing key: credentials signed with it from now on are not accepted; earlier
    /// ones stay valid.
    function retireSigningKey(bytes32 keyId) external;

    /**
     * @notice Marks a signing key compromised since `since` (unix seconds, not in the future), like
     * {markCompromised} for accounts: credentials signed at or after `since` are not accepted. Works on
     * retired keys too. A later call may move `since` earlier, never later.
     */
    function markSigningKeyCompromised(bytes32 keyId, uint48 since) external;

    /**
     * @notice Checks that `account` may anchor documents of `docType` now and returns its municipality.
     * Reverts with the reason otherwise (used by the document registry in the anchoring transaction).
     */
    function authorizeAnchor(address account, bytes32 docType) external view returns (bytes8 ags);

    /**
     * @notice Checks that `account` is an active, uncompromised account of a municipality and returns
     * that municipality (a suspended municipality may still change the status of its documents).
     */
    function authorizeStatusChange(address account) external view returns (bytes8 ags);

    /// @notice Never reverts: an unknown AGS gives admitted == false.
    function municipality(bytes8 ags) external view returns (Municipality memory);

    /// @notice Never reverts: an unknown account gives state == Unknown.
    function issuerAccount(address account) external view returns (IssuerAccount memory);

    function accountsOf(bytes8 ags) external view returns (address[] memory);

    function isDocTypeAllowed(bytes8 ags, bytes32 docType) external view returns (bool);

    function docTypesOf(bytes8 ags) external view returns (bytes32[] memory);

    /// @notice All admitted AGS in admission order.
    function municipalities() external view returns (bytes8[] memory);

    /// @notice Never reverts: an unknown id gives state == Unknown and an empty public key.
    function signingKey(bytes32 keyId) external view returns (SigningKey memory);

    /// @notice Every signing key ever added to the municipality, retired ones included, in order of addition.
    function signingKeysOf(bytes8 ags) external view returns (bytes32[] memory);
}
