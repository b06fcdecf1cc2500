"""Wire conformance over a unix socket: same framing, identity from SO_PEERCRED (§1.3).

The foreign peer computes the identity the server must give it (from the bound path as
given, its pid, uid and gid) with hashlib alone; the server only accepts the connection
if its own computation gives the same destination hash.
"""

from __future__ import annotations

import json
import os
import uuid

from conformance_helpers import ConfRegistry, TableInherits, run, wait_until
from raw_peer import RawPeer, answers, unix_identity_text

from entanglement.network import SyncDestination, SyncServer

F_OWNER = "0f0e0d0c-0b0a-4908-8706-050403020100"


def test_foreign_peer_over_a_unix_socket(pki, tmp_path) -> None:
    async def scenario() -> None:
        path = str(tmp_path / "entangle:ment.sock")  # a ':' to replace
        identity = unix_identity_text(path, os.getpid(), os.getuid(), os.getgid())
        reg = ConfRegistry()
        a = pki.nodes["a"]
        srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[reg])
        async with srv:
            await srv.listen_unix(path)
            srv.add_destination(SyncDestination(identity, "F over unix"))
            peer = await RawPeer.connect_unix(path)
            await wait_until(lambda: srv.connections)
            assert str(srv.connections[0].dest_hash) == identity
            peer.send({"_sync_owner": F_OWNER, "_sync_type": "SyncOwner"})
            row_id = str(uuid.uuid4())
            peer.send({"id": row_id, "info": "unix", "_sync_owner": F_OWNER,
                       "_sync_type": "TableInherits"})  # fmt: skip
            n = peer.request({"id": row_id, "info": "again", "_sync_owner": F_OWNER,
                              "_sync_type": "TableInherits"})  # fmt: skip
            [frame] = await peer.receive_until(lambda f: n in answers(f))
            assert (frame.flags, frame.payload) == (
                0, json.dumps({"_no_resp_for": [n]}).encode(),
            )  # fmt: skip
            assert reg.store(TableInherits)[uuid.UUID(row_id)].info == "again"
            await peer.close()

    run(scenario())
