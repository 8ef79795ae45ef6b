"""Secrets never reach the runs table or logs; peak memory sampling works."""

from postmix.runinfo import REDACTED, PeakRss, redact_mapping, redact_text


def test_secret_keys_are_redacted_at_any_depth():
    conf = {"spark.hadoop.fs.s3a.secret.key": "XYZ", "spark.hadoop.fs.s3a.access.key": "AKIA",
            "nested": {"password": "p", "user": "me"}, "spark.executor.cores": "2"}
    out = redact_mapping(conf)
    assert out["spark.hadoop.fs.s3a.secret.key"] == REDACTED and out["spark.hadoop.fs.s3a.access.key"] == REDACTED
    assert out["nested"] == {"password": REDACTED, "user": "me"} and out["spark.executor.cores"] == "2"


def test_secrets_inside_error_text_are_redacted():
    text = redact_text("failed with spark.hadoop.fs.s3a.secret.key=XYZ123 and token: abc")
    assert "XYZ123" not in text and "abc" not in text


def test_peak_rss_sees_an_allocation():
    with PeakRss(interval_s=0.01) as memory:
        block = bytearray(200 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
    assert memory.peak_mb >= 200
