"""``labelport init``: the home folder, the store, and a key."""

from __future__ import annotations

import click

from labelport.cli.base import (
    KEY_NAME,
    State,
    json_option,
    not_used,
    write_new_key,
)
from labelport.errors import (
    StoreError,
)
from labelport.home import record_key


@click.command()
@json_option
@click.pass_obj
@not_used(server="it prepares this machine's store and key and contacts no server")
def init(state: State) -> None:
    """Create the home folder and its store, and choose the key every command uses.

    The key is --key (or $LABELPORT_KEY), else HOME/id_ed25519, else ~/.ssh/id_ed25519, else a new
    Ed25519 key made in HOME; init records its choice in HOME/config.json, so a key that appears in
    ~/.ssh later changes nothing.

    \b
        labelport init
        labelport --home ./labels --key ~/.ssh/id_rsa init
    """
    try:
        state.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the home folder {state.home} ({exc.strerror or exc}).") from None
    key = state.find_key()
    created = key is None
    if key is None:
        key = state.home / KEY_NAME
        write_new_key(key)
        state.key = key
    # init prepares the local side, also for --server: the store, the key and your user in the store.
    identity = state.client(embedded=True).identity
    assert identity is not None
    config = record_key(state.home, key)
    public = key.with_name(key.name + ".pub")
    result = {
        "home": str(state.home),
        "store": str(state.home / "labelport.db"),
        "key": str(key),
        "public_key": str(public) if public.is_file() else None,
        "key_created": created,
        "fingerprint": identity.fingerprint,
        "config": str(config),
    }
    new = " (new)" if created else ""
    state.emit(
        result,
        f"store: {result['store']}\nkey: {key}{new}\nfingerprint: {identity.fingerprint}\n"
        f"Every command uses this key unless --key or $LABELPORT_KEY names another (recorded in {config}).",
    )
