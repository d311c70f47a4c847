// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title IIssuerRegistry
 * @notice The permissioned part of govchain: which municipality may anchor which document types,
 * through which accounts. The Land authority (REGISTRAR_ROLE) admits municipalities, changes their
 * document types, suspends and reactivates them, adds issuer accounts, retires them and marks them
 * compromised since a point in time.
 * @dev A municipality is keyed by its AGS (Amtlicher Gemeindeschlüssel) as 8 ASCII digits in a bytes8.
 * Document types are keccak256 of the use-case id (e.g. keccak256("gefaehrlicher-hund")).
 * An account belongs to exactly one municipality for ever: it can be retired or compromised, never moved.
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
    /// @notice The compromise time is 0 or lies in the future.
    error IssuerRegistryInvalidCompromiseTime(uint48 since);
    /// @notice The municipality may not issue this document type.
    error IssuerRegistryDocTypeNotAllowed(bytes8 ags, bytes32 docType);

    event MunicipalityAdmitted(bytes8 indexed ags, string name);
    event MunicipalitySuspended(bytes8 indexed ags);
    event MunicipalityReactivated(bytes8 indexed ags);
    event DocTypeAllowed(bytes8 indexed ags, bytes32 indexed docType);
    event DocTypeDisallowed(bytes8 indexed ags, bytes32 indexed docType);
    event AccountAdded(bytes8 indexed ags, address indexed account);
    event AccountRetired(bytes8 indexed ags, address indexed account);
    event AccountCompromised(bytes8 indexed ags, address indexed account, uint48 since);

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
}
