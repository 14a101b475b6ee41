-- Bans made with `ban --force` (or imported with --force) past the lockout floor: the reconciler
-- applies them, while it skips every other active ban the floor refuses (see core/lockout).
ALTER TABLE bans ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;
