"""The development bus's secrets: passwords per hub.conf user, the dev CA and server
certificate, and how settings and the supervisor hand them out."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from hub.supervisor import Child, Supervisor, default_children
from services.runtime.bus_users import (
    ADMIN_USER,
    HUB_CONF,
    bus_users,
    dev_passwords,
    password_file,
    server_environment,
)
from services.runtime.dev_certificates import dev_certificates
from services.runtime.settings import HubSettings

SERVICES = ["foreigners_authority", "case_management", "conflict_management", "steering_group"]


def test_every_user_of_hub_conf_gets_its_own_password_once(tmp_path: Path) -> None:
    # When the development passwords are made, and asked for again
    first = dev_passwords(tmp_path)
    again = dev_passwords(tmp_path)

    # Then each user of hub.conf (admin included) has a distinct one, kept private and stable
    assert set(first) == set(bus_users(HUB_CONF))
    assert ADMIN_USER in first
    assert len(set(first.values())) == len(first)
    assert again == first
    for user in first:
        assert stat.S_IMODE(password_file(tmp_path, user).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "users").stat().st_mode) == 0o700
    variables = server_environment(first)
    assert variables["PROJECTOR_PASSWORD"] == first["projector"]
    assert variables["ADMIN_PASSWORD"] == first[ADMIN_USER]


def test_every_hub_process_has_a_user_in_hub_conf() -> None:
    users = set(bus_users())
    processes = {child.nats_user for child in default_children(SERVICES)}

    assert processes <= users
    assert users - processes == {ADMIN_USER}


def test_the_dev_certificate_is_for_loopback_and_signed_by_the_dev_ca(tmp_path: Path) -> None:
    # When the development certificates are made, and asked for again
    files = dev_certificates(tmp_path)
    again = dev_certificates(tmp_path)

    # Then the server certificate names localhost and the loopback addresses, a client
    # trusting the CA accepts it, its key is private, and nothing is made twice
    cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    context = ssl.create_default_context(cafile=str(files.ca_file))
    assert len(context.get_ca_certs()) == 1
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca_file.read_bytes()))
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    assert again == files
    assert x509.load_pem_x509_certificate(again.cert_file.read_bytes()) == cert


def test_a_process_uses_its_own_password_and_the_dev_ca_from_the_settings(
    tmp_path: Path,
) -> None:
    passwords = dev_passwords(tmp_path / "bus")
    dev_certificates(tmp_path / "bus")

    dev = HubSettings(home=tmp_path, nats_dev_secrets=tmp_path / "bus")
    own = HubSettings(home=tmp_path, nats_password="mine")  # type: ignore[arg-type]

    assert dev.nats_password_for("case_management_relay") == passwords["case_management_relay"]
    assert dev.nats_password_for("case_management-relay") == passwords["case_management_relay"]
    assert own.nats_password_for("case_management_relay") == "mine"
    assert isinstance(dev.nats_tls_context(), ssl.SSLContext)
    assert HubSettings(home=tmp_path / "elsewhere").nats_password_for("projector") is None


def test_production_takes_the_password_from_the_environment_only(tmp_path: Path) -> None:
    dev_passwords(tmp_path / "secrets" / "nats")
    prod = HubSettings(home=tmp_path, env="prod")

    with pytest.raises(RuntimeError, match="HUB_NATS_PASSWORD"):
        prod.nats_password_for("projector")
    assert prod.nats_tls_context() is None  # the system's CAs, unless HUB_NATS_CA_FILE


def test_the_supervisor_hands_each_process_only_its_own_password(tmp_path: Path) -> None:
    # Given the development bus's passwords and hub up's processes
    passwords = dev_passwords(tmp_path / "secrets" / "nats")
    supervisor = Supervisor(HubSettings(home=tmp_path), children=default_children(SERVICES))
    supervisor.env = {"HUB_HOME": str(tmp_path), "HUB_NATS_PASSWORD": passwords[ADMIN_USER]}

    # When it builds each child's environment
    envs = {child.name: supervisor.child_env(child) for child in supervisor.children}

    # Then each child has its own user's password, and no other password of the bus
    assert (
        envs["foreigners_authority-relay"]["HUB_NATS_PASSWORD"]
        == (passwords["foreigners_authority_relay"])
    )
    assert envs["gateway"]["HUB_NATS_PASSWORD"] == passwords["gateway"]
    for child in supervisor.children:
        env = envs[child.name]
        assert child.nats_user is not None
        assert env["HUB_NATS_PASSWORD"] == passwords[child.nats_user]
        others = set(passwords.values()) - {passwords[child.nats_user]}
        assert others.isdisjoint(env.values())
    plain = Child("tool", ["true"])
    assert "HUB_NATS_PASSWORD" not in supervisor.child_env(plain)
