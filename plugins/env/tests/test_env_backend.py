"""The env backend's own behaviour: name mapping, the env file, bad input, and the manager
end to end (envelope binding, rotation, no plaintext anywhere)."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from secure_secrets_env.backend import EnvBackend
from secure_secrets_env.format import (
    DEFAULT_PREFIX,
    decode_value,
    encode_value,
    secret_name_of,
    variable_name,
)

from secrets_core.envfile import EnvFileError
from secrets_core.errors import (
    BackendConfigurationError,
    IntegrityError,
    InvalidSecretNameError,
    SecretNotFoundError,
)
from secrets_core.names import MAX_NAME_LENGTH
from secure_secrets import BackendType, SecureSecretsManager

CANARY = "CANARY-env-5f0c3a-must-never-be-shown"

segment = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,12}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)
names = (
    st.lists(segment, min_size=1, max_size=4)
    .map("/".join)
    .filter(lambda n: len(n) <= MAX_NAME_LENGTH)
)


def manager(env_file: Path | None = None, **options: object) -> SecureSecretsManager:
    table: dict[str, object] = dict(options)
    if env_file is not None:
        table["env_file"] = str(env_file)
    return SecureSecretsManager(default_backend=BackendType.ENV, backends={"env": table})


# --- the name mapping --------------------------------------------------------------------------


@pytest.mark.slow
@given(names)
def test_mapping_is_reversible_and_a_portable_variable_name(name: str) -> None:
    variable = variable_name(name)
    assert variable.startswith(DEFAULT_PREFIX)
    assert variable.isascii() and variable.replace("_", "").isalnum()
    assert secret_name_of(variable) == name


@pytest.mark.slow
@given(names, names)
def test_different_names_never_share_a_variable(a: str, b: str) -> None:
    if a != b:
        assert variable_name(a) != variable_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("a_b", "a/b"),
        ("a_Sb", "a/b"),
        ("a__b", "a_b"),
        ("a.b", "a_Db"),
        ("a-b", "a_Hb"),
        ("Key", "key"),
    ],
)
def test_near_collisions_map_apart(a: str, b: str) -> None:
    assert variable_name(a) != variable_name(b)
    assert secret_name_of(variable_name(a)) == a
    assert secret_name_of(variable_name(b)) == b


def test_documented_examples() -> None:
    assert variable_name("billing/stripe-key.v2") == "SECURE_SECRET_billing_Sstripe_Hkey_Dv2"
    assert variable_name("api_key") == "SECURE_SECRET_api__key"
    assert variable_name("DATABASE_URL", "APP_") == "APP_DATABASE__URL"


@pytest.mark.parametrize(
    "variable",
    ["SECURE_SECRET_", "SECURE_SECRET_a_", "SECURE_SECRET_a_X", "OTHER_a", "SECURE_SECRET_ä"],
)
def test_variables_that_are_not_ours_decode_to_none(variable: str) -> None:
    assert secret_name_of(variable) is None


@pytest.mark.parametrize("bad", ["a=b", "a\0b", "", "../x", "a//b", "ä", "x" * 129, 42])
def test_names_that_cannot_be_variables_raise_invalid_name(bad: object, tmp_path: Path) -> None:
    backend = EnvBackend(env_file=tmp_path / "app.env")
    with pytest.raises(InvalidSecretNameError):
        backend.write(bad, b"v")  # type: ignore[arg-type]
    with pytest.raises(InvalidSecretNameError):
        backend.read(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidSecretNameError):
        variable_name(bad)  # type: ignore[arg-type]
    assert not (tmp_path / "app.env").exists()


@pytest.mark.parametrize("prefix", ["", "1ABC", "A=B", "A-B", "A\0"])
def test_a_prefix_that_cannot_start_a_variable_is_a_config_error(prefix: str) -> None:
    with pytest.raises(BackendConfigurationError, match="prefix"):
        manager(prefix=prefix).store_secret("a", "v")


# --- bad stored data --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "foreign",
    [
        CANARY,
        "sse1:x:" + CANARY,
        "sse1:t:" + CANARY + "!",
        "sse1:b:A",
        "",
        "sse1:t:_w",
        "sse1:b:ab+/",
        "sse1:b:YWJj=",
        "sse1:b",
    ],
)
def test_a_foreign_value_raises_integrity_naming_the_variable_not_the_value(
    foreign: str,
) -> None:
    variable = variable_name("db/password")
    os.environ[variable] = foreign
    with pytest.raises(IntegrityError) as info:
        EnvBackend().read("db/password")
    assert variable in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.slow
@given(st.binary(max_size=64), st.sampled_from([b"", b"x"]), st.booleans())
def test_every_value_has_one_spelling_and_round_trips(
    raw: bytes, extra: bytes, as_text: bool
) -> None:
    value: bytes | str = (raw + extra).hex() if as_text else raw + extra
    text = encode_value(value)
    assert decode_value(text, "V") == value
    for i in range(len("sse1:b:"), len(text)):
        for char in "AQgw_-9":
            changed = text[:i] + char + text[i + 1 :]
            if changed != text:
                with contextlib.suppress(IntegrityError):
                    assert decode_value(changed, "V") != value, "one spelling per value"


def test_a_foreign_value_through_the_manager_raises_integrity() -> None:
    os.environ[variable_name("db")] = CANARY
    with pytest.raises(IntegrityError) as info:
        manager().retrieve_secret("db")
    assert CANARY not in str(info.value)


def test_missing_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFoundError, match="SECURE_SECRET_nope"):
        EnvBackend(env_file=tmp_path / "absent.env").read("nope")
    with pytest.raises(SecretNotFoundError):
        manager(tmp_path / "absent.env").retrieve_secret("nope")
    with pytest.raises(KeyError):  # SecretNotFoundError is also a KeyError
        EnvBackend().delete("nope")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("A=1\nB=2\nthis line is wrong\n", 3),
        ("# comment\n\n\nX='unterminated\n", 4),
        ('A=1\n\nB="' + CANARY + "\n", 3),
    ],
)
def test_a_malformed_env_file_names_the_line_never_its_content(
    tmp_path: Path, text: str, line: int, caplog: pytest.LogCaptureFixture
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(text)
    backend = EnvBackend(env_file=env_file)
    with caplog.at_level(logging.DEBUG), pytest.raises(EnvFileError) as info:
        backend.read("x")
    assert f"line {line}" in str(info.value) and str(env_file) in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in caplog.text
    with pytest.raises(EnvFileError, match=f"line {line}"):
        backend.write("x", b"v")
    assert env_file.read_text() == text, "a malformed file must not be rewritten"


# --- the env file ------------------------------------------------------------------------------

ORIGINAL = """\
# Application settings (kept as they are)
export DEBUG=true
  INDENTED = "spaced value"   # trailing comment

MULTI="line one
line two"
SINGLE='single # not a comment'
EMPTY=
BARE
"""


def test_store_keeps_every_other_line_byte_for_byte(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(ORIGINAL)
    backend = EnvBackend(env_file=env_file)
    backend.write("api/key", b"first")
    after_first = env_file.read_text()
    assert after_first.startswith(ORIGINAL)
    assert after_first[len(ORIGINAL) :] == f"{variable_name('api/key')}={encode_value(b'first')}\n"

    backend.write("api/key", b"second")  # replaced in place, not appended again
    backend.write("other", "x")
    text = env_file.read_text()
    assert text.startswith(ORIGINAL) and text.count(variable_name("api/key")) == 1
    backend.delete("api/key")
    backend.delete("other")
    assert env_file.read_text() == ORIGINAL


def test_a_value_in_the_middle_is_replaced_in_place(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    variable = variable_name("k")
    env_file.write_text(f"A=1\n\n  {variable}=old # note\n{variable}=dup\nB=2")
    EnvBackend(env_file=env_file).write("k", b"v")
    assert env_file.read_text() == f"A=1\n\n  {variable}={encode_value(b'v')}\nB=2"


def test_the_env_file_is_0600_under_umask_0_and_written_atomically(tmp_path: Path) -> None:
    env_file = tmp_path / "sub" / "app.env"
    old = os.umask(0)
    try:
        backend = EnvBackend(env_file=env_file)
        backend.write("a", b"v")
        backend.write("b", b"v")
    finally:
        os.umask(old)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(env_file.parent.stat().st_mode) == 0o700
    leftovers = [p.name for p in env_file.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], "atomic writes must not leave temp files"


def test_an_existing_world_readable_env_file_becomes_0600(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("A=1\n")
    env_file.chmod(0o644)
    EnvBackend(env_file=env_file).write("a", b"v")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_a_symlinked_env_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.env"
    real.write_text("A=1\n")
    link = tmp_path / "link.env"
    link.symlink_to(real)
    with pytest.raises(BackendConfigurationError, match="symlink"):
        EnvBackend(env_file=link).write("a", b"v")
    assert real.read_text() == "A=1\n"


def test_read_falls_back_to_the_env_file_and_the_process_env_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    EnvBackend(env_file=env_file).write("k", b"from-file")
    del os.environ[variable_name("k")]
    fresh = EnvBackend(env_file=env_file)
    assert fresh.read("k") == b"from-file"
    os.environ[variable_name("k")] = encode_value(b"from-orchestrator")
    assert fresh.read("k") == b"from-orchestrator"


def test_delete_removes_from_both_and_list_sees_both(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    backend = EnvBackend(env_file=env_file)
    backend.write("in/file", b"1")
    del os.environ[variable_name("in/file")]
    os.environ[variable_name("in/env")] = encode_value(b"2")
    backend.write("both", b"3")
    os.environ[f"{DEFAULT_PREFIX}not_Xours"] = "x"  # not a canonical encoding: ignored
    assert backend.list_names() == ["both", "in/env", "in/file"]
    assert backend.list_names("in/") == ["in/env", "in/file"]
    backend.delete("both")
    assert variable_name("both") not in os.environ
    assert variable_name("both") not in env_file.read_text()
    backend.delete("in/file")
    with pytest.raises(SecretNotFoundError):
        backend.read("in/file")
    assert backend.list_names() == ["in/env"]


@pytest.mark.slow
def test_another_process_sees_the_file_and_the_cache_follows_changes(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    reader = EnvBackend(env_file=env_file)
    writer = EnvBackend(env_file=env_file)
    writer.write("k", b"one")
    del os.environ[variable_name("k")]
    assert reader.read("k") == b"one"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from secure_secrets_env.backend import EnvBackend
        EnvBackend(env_file=Path({str(env_file)!r})).write("k", b"two")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRET_")}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    assert reader.read("k") == b"two"


# --- through the manager ---------------------------------------------------------------------


def test_plaintext_never_reaches_the_environment_or_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    m = manager(env_file)
    m.store_secret("db/password", CANARY)
    m.store_secret("raw", CANARY.encode())
    encoded = base64.urlsafe_b64encode(CANARY.encode()).decode().rstrip("=")
    text = env_file.read_text()
    for haystack in [text, *os.environ.values()]:
        assert CANARY not in haystack and encoded[:24] not in haystack
    assert m.retrieve_secret("db/password") == CANARY
    assert m.retrieve_secret("raw") == CANARY.encode()
    assert os.environ[variable_name("db/password")].startswith("sse1:b:")


def test_a_value_copied_into_another_variable_is_detected(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    m = manager(env_file)
    m.store_secret("prod/db", CANARY)
    m.store_secret("dev/db", "harmless")
    os.environ[variable_name("dev/db")] = os.environ[variable_name("prod/db")]
    with pytest.raises(IntegrityError, match="dev/db") as info:
        m.retrieve_secret("dev/db")
    assert CANARY not in str(info.value)
    # the same in the env file, read by a fresh process-like backend
    text = env_file.read_text()
    prod_token = os.environ[variable_name("prod/db")]
    for name in ("prod/db", "dev/db"):
        del os.environ[variable_name(name)]
    dev_line = next(line for line in text.splitlines() if line.startswith(variable_name("dev/db")))
    env_file.write_text(text.replace(dev_line, f"{variable_name('dev/db')}={prod_token}"))
    with pytest.raises(IntegrityError):
        manager(env_file).retrieve_secret("dev/db")
    assert manager(env_file).retrieve_secret("prod/db") == CANARY


@pytest.mark.slow
def test_rotation_re_encrypts_the_env_file_and_the_process(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("# keep me\nPLAIN_SETTING=1\n")
    m = SecureSecretsManager(backends={"env": {"env_file": str(env_file)}})  # default: file
    m.store_secret("on/file", "file value")
    for i in range(3):
        m.store_secret(f"svc/{i}", f"value {i}", backend_type="env")
    before = {i: os.environ[variable_name(f"svc/{i}")] for i in range(3)}
    before_file = env_file.read_text()

    event = m.rotate_encryption_key(keep_old_keys=0)

    assert event.details["backends"]["env"] == {"rotated": 3, "skipped": 0, "failed": 0}
    new_id = event.details["new_key_id"]
    after_file = env_file.read_text()
    assert after_file.startswith("# keep me\nPLAIN_SETTING=1\n")
    for i in range(3):
        variable = variable_name(f"svc/{i}")
        assert os.environ[variable] != before[i]
        assert f"{variable}={os.environ[variable]}" in after_file, "file and env must agree"
        assert base64.urlsafe_b64decode(os.environ[variable][7:] + "==").startswith(
            b"ss1:" + new_id.encode()
        )
        assert m.retrieve_secret(f"svc/{i}", backend_type="env") == f"value {i}"
    assert before_file != after_file
    # a fresh process reading only the file (old keys retired) gets the values too
    for i in range(3):
        del os.environ[variable_name(f"svc/{i}")]
    fresh = SecureSecretsManager(backends={"env": {"env_file": str(env_file)}})
    assert fresh.retrieve_secret("svc/2", backend_type="env") == "value 2"
    assert fresh.retrieve_secret("on/file") == "file value"


def test_delete_and_list_through_the_manager(tmp_path: Path) -> None:
    m = manager(tmp_path / "app.env")
    m.store_secret("a/x", "1")
    m.store_secret("b", "2")
    assert m.list_secrets() == ["a/x", "b"]
    assert m.list_secrets("a/") == ["a/x"]
    m.delete_secret("a/x")
    assert m.list_secrets() == ["b"]
    with pytest.raises(SecretNotFoundError):
        m.retrieve_secret("a/x")


@pytest.mark.slow
def test_registration_does_not_import_the_backend_module() -> None:
    script = (
        "import sys\n"
        "from secrets_core.plugin import get_registry\n"
        "get_registry().lookup('backend', 'env')\n"
        "assert 'secure_secrets_env.backend' not in sys.modules\n"
        "assert 'dotenv' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
