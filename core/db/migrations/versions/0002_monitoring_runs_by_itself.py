"""Monitoring runs by itself: leases and state per dataset, alert destinations, deliveries and their
attempts, stored reference profiles, API rejections, and the rows a sampled window was measured on.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 22:07:33.164116
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_destinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("style", sa.String(length=8), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_digest_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "fingerprint"),
    )
    with op.batch_alter_table("alert_destinations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_destinations_scope"), ["scope"], unique=False)

    op.create_table(
        "monitor_state",
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=160), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_trigger", sa.String(length=16), nullable=False),
        sa.Column("last_measured", sa.Integer(), nullable=False),
        sa.Column("last_alerts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("schedule_every", sa.Float(), nullable=True),
        sa.Column("schedule_seen_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("dataset"),
    )
    op.create_table(
        "reference_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("layout", sa.Integer(), nullable=False),
        sa.Column("profile", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset", "model_version"),
    )
    with op.batch_alter_table("reference_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reference_profiles_dataset"), ["dataset"], unique=False)

    op.create_table(
        "rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("after_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejections_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rejections_dataset"), ["dataset"], unique=False)

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert_events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["alert_destinations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("destination_id", "key"),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_deliveries_dataset"), ["dataset"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_deliveries_destination_id"), ["destination_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_deliveries_status"), ["status"], unique=False)

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["alert_deliveries.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_attempts_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_attempts_delivery_id"), ["delivery_id"], unique=False)

    with op.batch_alter_table("drift_windows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sampled_rows", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drift_windows", schema=None) as batch_op:
        batch_op.drop_column("sampled_rows")

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_delivery_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_at"))

    op.drop_table("delivery_attempts")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_status"))
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_destination_id"))
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_dataset"))

    op.drop_table("alert_deliveries")
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejections_dataset"))
        batch_op.drop_index(batch_op.f("ix_rejections_created_at"))

    op.drop_table("rejections")
    with op.batch_alter_table("reference_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reference_profiles_dataset"))

    op.drop_table("reference_profiles")
    op.drop_table("monitor_state")
    with op.batch_alter_table("alert_destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_destinations_scope"))

    op.drop_table("alert_destinations")
