-- Why a ban was made, beside its matched lines: the times of the failures that caused it (JSON
-- array of epoch seconds) and the filter's captures of its last failure (JSON object, fail2ban's
-- names: user, fid, …). Written once per ban, never per failure.
ALTER TABLE bans ADD COLUMN failure_times TEXT;
ALTER TABLE bans ADD COLUMN captures TEXT;
