// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IIssuerRegistry} from "./interfaces/IIssuerRegistry.sol";

/**
 * @title IssuerRegistry
 * @notice Which municipality may anchor which document types, through which accounts, and with which keys
 * it signs credentials. Kept by the Land authority (REGISTRAR_ROLE); read by the document registry in every
 * anchoring and status change, and by verifiers through the document registry's `verification` view and
 * the signing-key views.
 * @dev Accounts and signing keys are never deleted or moved: retiring or marking one compromised only adds
 * dates, so that verifiers can still judge anchors and signatures made before.
 */
contract IssuerRegistry is IIssuerRegistry, AccessControl {
    using EnumerableSet for EnumerableSet.Bytes32Set;

    /// @notice The Land authority: admits municipalities and manages their accounts and document types.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    mapping(bytes8 ags => Municipality) private _municipalities;
    mapping(bytes8 ags => address[]) private _accountsOf;
    mapping(bytes8 ags => EnumerableSet.Bytes32Set) private _docTypes;
    mapping(address account => IssuerAccount) private _accounts;
    bytes8[] private _agsList;
    // Appended after the state above, which keeps its storage slots.
    mapping(bytes32 keyId => SigningKey) private _signingKeys;
    // Keyed by the AGS's 8 bytes read as a number, not as bytes8: each bytes8 key adds a use of the 2^192-1
    // cleanup mask, and with a few more uses the optimizer computes the mask instead of pushing it, which
    // costs 12 gas more per use in the existing functions that handle an AGS (anchoring among them).
    mapping(uint64 ags => bytes32[]) private _signingKeysOf;

    /// @dev Length of a compressed SEC1 P-256 point: the prefix 0x02 or 0x03 (parity of y), then x.
    uint256 private constant _COMPRESSED_P256_LENGTH = 33;

    /**
     * @dev Grants `admin` DEFAULT_ADMIN_ROLE (may grant and revoke REGISTRAR_ROLE) and REGISTRAR_ROLE.
     *
     * Requirements: `admin` is not the zero address.
     */
    constructor(address admin) {
        if (admin == address(0)) revert IssuerRegistryInvalidAccount(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    // ---------------------------------------------------------------------------------------------
    // Registrar (Land authority)
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IIssuerRegistry
    function admitMunicipality(
        bytes8 ags,
        string calldata name,
        address[] calldata accounts,
        bytes32[] calldata docTypes
    ) external onlyRole(REGISTRAR_ROLE) {
        if (!_isValidAgs(ags)) revert IssuerRegistryInvalidAgs(ags);
        if (_municipalities[ags].admitted) revert IssuerRegistryMunicipalityExists(ags);
        if (bytes(name).length == 0) revert IssuerRegistryEmptyName();

        _municipalities[ags] = Municipality({
            name: name,
            admitted: true,
            active: true,
            admittedAt: uint48(block.timestamp)
        });
        _agsList.push(ags);
        emit MunicipalityAdmitted(ags, name);

        for (uint256 i = 0; i < accounts.length; ++i) {
            _addAccount(ags, accounts[i]);
        }
        EnumerableSet.Bytes32Set storage allowed = _docTypes[ags];
        for (uint256 i = 0; i < docTypes.length; ++i) {
            // A repeated entry changes nothing and so emits nothing.
            if (allowed.add(docTypes[i])) emit DocTypeAllowed(ags, docTypes[i]);
        }
    }

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Requirements: caller has REGISTRAR_ROLE; the municipality is admitted.
     * Emits {DocTypeDisallowed} for each type dropped, then {DocTypeAllowed} for each type added.
     */
    function setDocTypes(bytes8 ags, bytes32[] calldata docTypes) external onlyRole(REGISTRAR_ROLE) {
        _requireAdmitted(ags);
        EnumerableSet.Bytes32Set storage allowed = _docTypes[ags];
        bytes32[] memory current = allowed.values();
        for (uint256 i = 0; i < current.length; ++i) {
            if (!_includes(docTypes, current[i])) {
                allowed.remove(current[i]);
                emit DocTypeDisallowed(ags, current[i]);
            }
        }
        for (uint256 i = 0; i < docTypes.length; ++i) {
            if (allowed.add(docTypes[i])) emit DocTypeAllowed(ags, docTypes[i]);
        }
    }

    /**
     * @notice Stops a municipality from anchoring. Its documents stay valid and it may still change their
     * status.
     * @dev Requirements: caller has REGISTRAR_ROLE; the municipality is admitted and active.
     * Emits {MunicipalitySuspended}.
     */
    function suspendMunicipality(bytes8 ags) external onlyRole(REGISTRAR_ROLE) {
        Municipality storage m = _requireAdmitted(ags);
        if (!m.active) revert IssuerRegistryMunicipalityNotActive(ags);
        m.active = false;
        emit MunicipalitySuspended(ags);
    }

    /**
     * @dev Requirements: caller has REGISTRAR_ROLE; the municipality is admitted and suspended.
     * Emits {MunicipalityReactivated}.
     */
    function reactivateMunicipality(bytes8 ags) external onlyRole(REGISTRAR_ROLE) {
        Municipality storage m = _requireAdmitted(ags);
        if (m.active) revert IssuerRegistryMunicipalityAlreadyActive(ags);
        m.active = true;
        emit MunicipalityReactivated(ags);
    }

    /**
     * @notice Adds an issuer account to a municipality, e.g. the new key of a key rotation.
     * @dev Requirements: caller has REGISTRAR_ROLE; the municipality is admitted (it may be suspended);
     * the account is non-zero and has never belonged to any municipality.
     * Emits {AccountAdded}.
     */
    function addAccount(bytes8 ags, address account) external onlyRole(REGISTRAR_ROLE) {
        _requireAdmitted(ags);
        _addAccount(ags, account);
    }

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Requirements: caller has REGISTRAR_ROLE; the account is known and active.
     * Emits {AccountRetired}.
     */
    function retireAccount(address account) external onlyRole(REGISTRAR_ROLE) {
        IssuerAccount storage acc = _requireKnownAccount(account);
        if (acc.state == AccountState.Retired) revert IssuerRegistryAccountRetired(account);
        acc.state = AccountState.Retired;
        acc.retiredAt = uint48(block.timestamp);
        emit AccountRetired(acc.ags, account);
    }

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Works on active and on retired accounts (a retired key may turn out to have leaked earlier).
     *
     * Requirements: caller has REGISTRAR_ROLE; the account is known; `since` is not 0, not in the future
     * and, if the account was marked before, strictly earlier than the time marked then.
     * Emits {AccountCompromised}.
     */
    function markCompromised(address account, uint48 since) external onlyRole(REGISTRAR_ROLE) {
        IssuerAccount storage acc = _requireKnownAccount(account);
        _requireCompromiseTime(acc.compromisedSince, since);
        acc.compromisedSince = since;
        emit AccountCompromised(acc.ags, account, since);
    }

    /// @inheritdoc IIssuerRegistry
    function addSigningKey(bytes8 ags, bytes calldata publicKey)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (bytes32 keyId)
    {
        _requireAdmitted(ags);
        if (
            publicKey.length != _COMPRESSED_P256_LENGTH ||
            (publicKey[0] != 0x02 && publicKey[0] != 0x03)
        ) revert IssuerRegistryInvalidSigningKey(publicKey);
        keyId = keccak256(publicKey);
        SigningKey storage key = _signingKeys[keyId];
        if (key.state != AccountState.Unknown) revert IssuerRegistrySigningKeyExists(keyId);
        key.ags = ags;
        key.state = AccountState.Active;
        key.addedAt = uint48(block.timestamp);
        key.publicKey = publicKey;
        _signingKeysOf[uint64(ags)].push(keyId);
        emit SigningKeyAdded(ags, keyId, publicKey);
    }

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Requirements: caller has REGISTRAR_ROLE; the key is known and active.
     * Emits {SigningKeyRetired}.
     */
    function retireSigningKey(bytes32 keyId) external onlyRole(REGISTRAR_ROLE) {
        SigningKey storage key = _requireKnownSigningKey(keyId);
        if (key.state == AccountState.Retired) revert IssuerRegistrySigningKeyRetired(keyId);
        key.state = AccountState.Retired;
        key.retiredAt = uint48(block.timestamp);
        emit SigningKeyRetired(key.ags, keyId);
    }

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Requirements: caller has REGISTRAR_ROLE; the key is known; `since` is not 0, not in the future
     * and, if the key was marked before, strictly earlier than the time marked then.
     * Emits {SigningKeyCompromised}.
     */
    function markSigningKeyCompromised(bytes32 keyId, uint48 since) external onlyRole(REGISTRAR_ROLE) {
        SigningKey storage key = _requireKnownSigningKey(keyId);
        _requireCompromiseTime(key.compromisedSince, since);
        key.compromisedSince = since;
        emit SigningKeyCompromised(key.ags, keyId, since);
    }

    // ---------------------------------------------------------------------------------------------
    // Authorisation checks for the document registry
    // ---------------------------------------------------------------------------------------------

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Checks in this order: known account, not compromised, not retired, municipality active,
     * document type allowed.
     */
    function authorizeAnchor(address account, bytes32 docType) external view returns (bytes8 ags) {
        ags = _requireUsableAccount(account);
        if (!_municipalities[ags].active) revert IssuerRegistryMunicipalityNotActive(ags);
        if (!_docTypes[ags].contains(docType)) revert IssuerRegistryDocTypeNotAllowed(ags, docType);
    }

    /**
     * @inheritdoc IIssuerRegistry
     * @dev Checks in this order: known account, not compromised, not retired.
     */
    function authorizeStatusChange(address account) external view returns (bytes8 ags) {
        return _requireUsableAccount(account);
    }

    // ---------------------------------------------------------------------------------------------
    // Views (never revert)
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IIssuerRegistry
    function municipality(bytes8 ags) external view returns (Municipality memory) {
        return _municipalities[ags];
    }

    /// @inheritdoc IIssuerRegistry
    function issuerAccount(address account) external view returns (IssuerAccount memory) {
        return _accounts[account];
    }

    /// @notice Every account ever added to the municipality, retired ones included, in order of addition.
    function accountsOf(bytes8 ags) external view returns (address[] memory) {
        return _accountsOf[ags];
    }

    function isDocTypeAllowed(bytes8 ags, bytes32 docType) external view returns (bool) {
        return _docTypes[ags].contains(docType);
    }

    /// @notice The document types the municipality may issue now (order not significant).
    function docTypesOf(bytes8 ags) external view returns (bytes32[] memory) {
        return _docTypes[ags].values();
    }

    /// @inheritdoc IIssuerRegistry
    function municipalities() external view returns (bytes8[] memory) {
        return _agsList;
    }

    /// @inheritdoc IIssuerRegistry
    function signingKey(bytes32 keyId) external view returns (SigningKey memory) {
        return _signingKeys[keyId];
    }

    /// @inheritdoc IIssuerRegistry
    function signingKeysOf(bytes8 ags) external view returns (bytes32[] memory) {
        return _signingKeysOf[uint64(ags)];
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    function _addAccount(bytes8 ags, address account) private {
        if (account == address(0)) revert IssuerRegistryInvalidAccount(account);
        IssuerAccount storage acc = _accounts[account];
        if (acc.state != AccountState.Unknown) revert IssuerRegistryAccountExists(account);
        acc.ags = ags;
        acc.state = AccountState.Active;
        acc.addedAt = uint48(block.timestamp);
        _accountsOf[ags].push(account);
        emit AccountAdded(ags, account);
    }

    function _requireAdmitted(bytes8 ags) private view returns (Municipality storage m) {
        m = _municipalities[ags];
        if (!m.admitted) revert IssuerRegistryUnknownMunicipality(ags);
    }

    function _requireKnownAccount(address account) private view returns (IssuerAccount storage acc) {
        acc = _accounts[account];
        if (acc.state == AccountState.Unknown) revert IssuerRegistryUnknownAccount(account);
    }

    function _requireKnownSigningKey(bytes32 keyId) private view returns (SigningKey storage key) {
        key = _signingKeys[keyId];
        if (key.state == AccountState.Unknown) revert IssuerRegistryUnknownSigningKey(keyId);
    }

    /// @dev An account that may act for its municipality now: known, never marked compromised, active.
    function _requireUsableAccount(address account) private view returns (bytes8) {
        IssuerAccount memory acc = _accounts[account];
        if (acc.state == AccountState.Unknown) revert IssuerRegistryUnknownAccount(account);
        if (acc.compromisedSince != 0) revert IssuerRegistryAccountCompromised(account, acc.compromisedSince);
        if (acc.state == AccountState.Retired) revert IssuerRegistryAccountRetired(account);
        return acc.ags;
    }

    /// @dev A compromise time may be set once and then only moved earlier: not 0 (0 means "never"), not in
    /// the future, and strictly before the time marked before, if any (a mark is never lifted).
    function _requireCompromiseTime(uint48 previous, uint48 since) private view {
        if (since == 0 || since > block.timestamp) revert IssuerRegistryInvalidCompromiseTime(since);
        if (previous != 0 && since >= previous) revert IssuerRegistryInvalidCompromiseTime(since);
    }

        function _isValidAgs(bytes8 ags) private pure returns (bool) {
        for (uint256 i = 0; i < 8; ++i) {
            if (ags[i] < "0" || ags[i] > "9") return false;
        }
        return true;
    }

    function _includes(bytes32[] calldata list, bytes32 value) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
