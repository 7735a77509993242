"""nuclio's Kafka security attributes (``sasl``, ``tls``, ``caCert``, ...) become librdkafka settings that a
real confluent-kafka consumer accepts. No SASL or TLS broker runs here (the Tansu binary in the test
fixture offers neither), so the handshake itself is not exercised."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Consumer

from fnpack.emulator import FunctionConfigError
from fnpack.emulator.config import TriggerConfig
from fnpack.emulator.triggers.kafka import KafkaTrigger, security_config

CA = (Path(__file__).parent / "data" / "test-ca.pem").read_text()
BASE = {"brokers": ["127.0.0.1:1"], "topics": ["t"], "consumerGroup": "g"}


def _trigger(**attrs) -> KafkaTrigger:
    return KafkaTrigger(TriggerConfig(name="k", kind="kafka-cluster", attributes={**BASE, **attrs}))


def _accepted(trigger: KafkaTrigger) -> None:
    Consumer(trigger.consumer_config).close()  # librdkafka validates names, values and the PEM here


def test_sasl_scram_over_tls_with_a_ca_certificate():
    trigger = _trigger(
        sasl={"enable": True, "user": "svc", "password": "s3cret", "mechanism": "SCRAM-SHA-512"},
        tls={"enable": True},
        caCert=CA,
    )
    config = trigger.consumer_config
    assert config["security.protocol"] == "SASL_SSL" and config["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == ("svc", "s3cret")
    assert config["ssl.ca.pem"] == CA
    _accepted(trigger)


@pytest.mark.parametrize(
    ("attrs", "protocol"),
    [
        ({"sasl": {"enable": True, "user": "u", "password": "p"}}, "SASL_PLAINTEXT"),  # PLAIN by default
        ({"tls": {"enable": True, "insecureSkipVerify": True}}, "SSL"),
        (
            {"SASL": {"Enable": True, "User": "u", "Password": "p"}, "TLS": {"Enable": True}},
            "SASL_SSL",
        ),  # any case
    ],
)
def test_protocols(attrs, protocol):
    trigger = _trigger(**attrs)
    assert trigger.consumer_config["security.protocol"] == protocol
    _accepted(trigger)


def test_a_certificate_flattened_onto_one_line_as_nuclio_allows():
    flat = CA.strip().replace("\n", "@")
    assert security_config({"caCert": flat}, "k")["ssl.ca.pem"] == CA.strip()
    spaced = CA.strip().replace("\n", " ")
    assert security_config({"caCert": spaced}, "k")["ssl.ca.pem"] == CA.strip()


def test_oauth_client_credentials():
    trigger = _trigger(
        sasl={
            "enable": True,
            "mechanism": "OAUTHBEARER",
            "oauth": {
                "clientId": "c",
                "clientSecret": "s",
                "tokenUrl": "https://idp.example/token",
                "scopes": ["a", "b"],
            },
        },
        tls={"enable": True},
    )
    config = trigger.consumer_config
    assert config["sasl.oauthbearer.method"] == "oidc"
    assert config["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/token"
    assert config["sasl.oauthbearer.scope"] == "a b"


def test_no_security_attributes_no_settings():
    assert security_config(BASE, "k") == {}


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"sasl": {"enable": True, "mechanism": "GSSAPI"}}, "sasl.mechanism 'GSSAPI' is not one of"),
        ({"sasl": "yes"}, "attributes.sasl and attributes.tls must be mappings"),
        ({"caCert": 5}, "attributes.caCert must be a PEM string"),
    ],
)
def test_bad_security_attributes_are_one_line_errors(attrs, message):
    with pytest.raises(FunctionConfigError, match=message):
        _trigger(**attrs)
