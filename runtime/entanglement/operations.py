"""The standard operations: ``sync``, ``forward``, ``delete``, ``create``, ``error`` (§10).

Each operation object checks ownership once the object is constructed
(``should_listen_constructed``) and floods it on after the registry processed it
(``flood``).  The words used below:

* *ephemeral*: ``obj.sync_owner is EphemeralUnflooded`` (errors, protocol messages);
* *local*: ``obj.sync_is_local`` (we are the owner);
* *from the owner's direction*: ``owner.dest_hash == sender.dest_hash``, i.e. the sender is
  the neighbour we learned the owner from;
* *next hop*: ``manager.dest_by_hash(owner.dest_hash)``.

Floods go only through ``manager.synchronize(...)`` passing ``response_for`` on, which is
how answers travel back through gateways (§4.2).  Destinations are compared with ``==``.

Choices and fixed quirks:

* Quirk 9 fixed: ``sync`` checks the context's owner (SQL: the owner row named by the
  message) with a proper ``SyncBadOwner``; a context without an ``owner`` skips that check.
* ``delete`` floods carry the primary keys (plus ``_sync_owner``, always included) only.
* ``create``'s key check (§10.6) looks at the names the message arrived with
  (``info["attributes"]``): construction takes the keys out of ``msg``, so a check on
  ``msg`` accepted every sender-chosen key (issue 10 item 2).
* When the next hop toward an owner is unknown, the relay raises ``SyncNotConnected``
  naming the owner's hash, so the requester gets an error instead of silence.
"""

from __future__ import annotations

from typing import Any

from ._model import EphemeralUnflooded, Unique
from ._opbase import (
    ErrorOperation,
    MethodOperation,
    SyncOperation,
    error,
    floods_only_elsewhere,
)
from ._wire_errors import (
    SyncBadEncodingError,
    SyncBadOwner,
    SyncNotConnected,
    SyncUnauthorized,
    WrongSyncDestination,
    describe_destination,
)

__all__ = [
    "CreateOperation",
    "DeleteOperation",
    "ErrorOperation",
    "ForwardOperation",
    "MethodOperation",
    "OwnedOperation",
    "SyncOp",
    "SyncOperation",
    "SyncOperationBase",
    "SyncStateOperation",
    "create",
    "create_operation",
    "delete",
    "delete_operation",
    "error",
    "error_operation",
    "forward",
    "forward_operation",
    "sync",
    "sync_operation",
]


def _is_ephemeral(obj: Any) -> bool:
    return obj.sync_owner is EphemeralUnflooded


def _from_owner_direction(owner: Any, info: dict[str, Any]) -> bool:
    owner_hash = getattr(owner, "dest_hash", None)
    if owner_hash is None:
        return False
    sender_hash = getattr(info.get("sender"), "dest_hash", None)
    return owner_hash is sender_hash or owner_hash == sender_hash


def _primary_keys(obj: Any) -> tuple[str, ...]:
    keys = type(obj).sync_primary_keys
    return () if keys == Unique else tuple(keys)


class OwnedOperation(SyncOperation):
    """Base of the operations on owned objects: flooding through the manager and the
    next hop toward an owner."""

    def synchronize(self, obj: Any, info: dict[str, Any], **kwargs: Any) -> None:
        """Flood through the manager, passing the response context on."""
        info["manager"].synchronize(
            obj, response_for=info.get("response_for"), **kwargs
        )

    def sync_or_relay(self, obj: Any, info: dict[str, Any]) -> None:
        """Owner: ``sync`` the object to everyone; else send the operation on toward
        the owner with the names the message carried."""
        if obj.sync_is_local:
            self.synchronize(obj, info, operation="sync")
            return
        self.synchronize(
            obj,
            info,
            destinations=[self.next_hop(obj, info)],
            operation=self.name,
            attributes_to_sync=info.get("attributes"),
        )

    def next_hop(self, obj: Any, info: dict[str, Any]) -> Any:
        """The destination toward ``obj``'s owner.

        Raises:
            SyncNotConnected: if the manager knows no destination for the owner's hash.
        """
        owner_hash = obj.sync_owner.dest_hash
        destination = info["manager"].dest_by_hash(owner_hash)
        if destination is None:
            raise SyncNotConnected(
                f"no destination toward the owner of {obj.sync_type}, at {owner_hash}",
                dest=owner_hash,
            )
        return destination


class SyncStateOperation(OwnedOperation):
    """``sync``: the authoritative state, arriving from the owner's direction."""

    def _check_info(self, obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
        """Accept ephemeral objects; else only from the owner's direction, never ours."""
        owner = obj.sync_owner
        if owner is EphemeralUnflooded:
            return True
        if obj.sync_is_local:
            raise SyncBadOwner(f"received a sync of {obj.sync_type} that we own")
        if not _from_owner_direction(owner, info):
            raise SyncBadOwner(
                f"{obj.sync_type}: its owner was learned from {owner.dest_hash}, not from "
                f"the sender {describe_destination(info.get('sender'))}"
            )
        context_owner = getattr(info.get("context"), "owner", None)
        if (
            context_owner is not None
            and context_owner is not owner  # (the same owner was checked just above)
            and not _from_owner_direction(context_owner, info)
        ):
            raise SyncBadOwner(
                f"{obj.sync_type}: the owner named by the message was learned from "
                f"{context_owner.dest_hash}, not from the sender"
            )
        return True

    @floods_only_elsewhere
    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        """Send the whole object to every live destination except the sender."""
        if obj.sync_owner is EphemeralUnflooded:
            return
        sender = info.get("sender")
        # A leaf node's only link is the sender: nothing to flood, and synchronize
        # would only find that out after its argument checks (same outcome).
        if info["manager"].links_besides(sender):
            self.synchronize(obj, info, exclude=[sender], operation="sync")


class ForwardOperation(OwnedOperation):
    """``forward``: a proposed change travelling toward the owner."""

    def _check_info(self, obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
        """Refuse ephemeral objects and forwards coming from the owner's direction."""
        if _is_ephemeral(obj):
            raise SyncBadOwner(f"{obj.sync_type} has no owner to forward to")
        if not obj.sync_is_local and _from_owner_direction(obj.sync_owner, info):
            raise SyncBadOwner(
                f"forward of {obj.sync_type} came from the owner's direction "
                "(forwards travel toward the owner)"
            )
        return True

    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        """Owner: ``sync`` to everyone (the sender gets the answer); else relay."""
        self.sync_or_relay(obj, info)


class DeleteOperation(OwnedOperation):
    """``delete``: from the owner, a deletion; from anyone else, a request."""

    def _check_info(self, obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
        """Refuse ephemeral objects."""
        if _is_ephemeral(obj):
            raise SyncBadOwner(f"{obj.sync_type} has no owner; it cannot be deleted")
        return True

    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        """Owner: echo to all; owner's direction: on to all others; else toward owner."""
        keys = _primary_keys(obj)
        if obj.sync_is_local:
            self.synchronize(obj, info, operation="delete", attributes_to_sync=keys)
        elif _from_owner_direction(obj.sync_owner, info):
            self.synchronize(
                obj,
                info,
                exclude=[info.get("sender")],
                operation="delete",
                attributes_to_sync=keys,
            )
        else:
            self.synchronize(
                obj,
                info,
                destinations=[self.next_hop(obj, info)],
                operation="delete",
                attributes_to_sync=keys,
            )


class CreateOperation(OwnedOperation):
    """``create``: ask the owner to create an object (keys may be omitted)."""

    primary_keys_required = False

    def _check_info(self, obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
        """Keys need the class's consent; an owner is required; no loops."""
        # The keys the message carried: construction takes them out of ``msg``, so
        # the names come from ``attributes`` (the message's names as received).
        sent = info.get("attributes")
        if sent is None:
            sent = msg
        if any(key in sent for key in _primary_keys(obj)):
            consent = getattr(obj, "sync_should_listen_primary_keys", None)
            if consent is None or consent(msg, **info) is not True:
                raise SyncUnauthorized(
                    f"create of {obj.sync_type} may not choose its primary keys"
                )
        owner = getattr(info.get("context"), "owner", None)
        if owner is None:
            raise SyncBadEncodingError("create requires _sync_owner", network_msg=msg)
        if _from_owner_direction(owner, info):
            raise WrongSyncDestination(
                f"create loop: create of {obj.sync_type} came from the owner's direction"
            )
        return True

    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        """Owner: ``sync`` the new object to all; else relay ``create`` toward owner."""
        self.sync_or_relay(obj, info)


sync = SyncStateOperation("sync")
forward = ForwardOperation("forward")
delete = DeleteOperation("delete")
create = CreateOperation("create")

# Earlier names of the two classes (SyncOperation is the contract every operation
# follows; these said less about what they are).
SyncOperationBase = OwnedOperation
"""Alias of :class:`OwnedOperation` (its earlier name)."""
SyncOp = SyncStateOperation
"""Alias of :class:`SyncStateOperation` (its earlier name)."""

# The original's names of the standard operation objects, for registries written for it.
sync_operation = sync
forward_operation = forward
delete_operation = delete
create_operation = create
error_operation = error


def __getattr__(name: str) -> Any:
    # transition_operation lives in entanglement.transition, which imports this module.
    if name == "transition_operation":
        from .transition import transition_operation

        return transition_operation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
