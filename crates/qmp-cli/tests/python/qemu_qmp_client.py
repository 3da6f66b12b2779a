"""Drives a QMP server with Python's qemu.qmp QMPClient: negotiation with
oob, execute, exec-oob, an EventListener, and send_fd_scm then getfd.

Usage: qemu_qmp_client.py SOCKET   (the server must start with -S)
Prints one "ok: ..." line per check and exits non-zero on the first failure.
"""

import asyncio
import os
import sys

from qemu.qmp import EventListener, ExecuteError, QMPClient


async def main(path):
    client = QMPClient("interop")
    await client.connect(path)
    caps = client.greeting.QMP.capabilities
    assert "oob" in caps, caps
    print("ok: greeting offers oob, negotiated")

    status = await client.execute("query-status")
    assert status["status"] == "prelaunch", status
    print("ok: execute query-status")

    listener = EventListener(("RESUME", "STOP"))
    with client.listen(listener):
        await client.execute("cont")
        event = await asyncio.wait_for(listener.get(), 5)
        assert event["event"] == "RESUME", event
        await client.execute("stop")
        event = await asyncio.wait_for(listener.get(), 5)
        assert event["event"] == "STOP", event
    print("ok: EventListener saw RESUME and STOP")

    msg = client.make_execute_msg("migrate-pause", oob=True)
    try:
        await client.execute_msg(msg)
        raise AssertionError("migrate-pause should fail")
    except ExecuteError as err:
        assert "postcopy-active" in err.error.error.desc, err.error.error.desc
    print("ok: exec-oob migrate-pause answered with QEMU's error")

    try:
        await client.execute_msg(client.make_execute_msg("query-name", oob=True))
        raise AssertionError("query-name is not allowed out of band")
    except ExecuteError as err:
        assert err.error.error.desc == "The command query-name does not support OOB", err.error.error.desc
    print("ok: exec-oob of an in-band command refused")

    read_end, write_end = os.pipe()
    client.send_fd_scm(read_end)
    await client.execute("getfd", {"fdname": "interop-fd"})
    await client.execute("closefd", {"fdname": "interop-fd"})
    try:
        await client.execute("closefd", {"fdname": "interop-fd"})
        raise AssertionError("second closefd should fail")
    except ExecuteError as err:
        assert err.error.error.desc == "File descriptor named 'interop-fd' not found", err.error.error.desc
    os.close(read_end)
    os.close(write_end)
    print("ok: send_fd_scm then getfd and closefd")

    await client.disconnect()


asyncio.run(main(sys.argv[1]))
