-- Bans by source, jail and time of ban, for `stats`: its counts per hour and per day are range
-- counts over this index, and it reads the address of every ban of the period from the index
-- alone, never from the table (whose rows carry the matched log lines). A new ban lands at the end
-- of its (source, jail), the cheap end of a B-tree to keep. Source comes first so that no other
-- query, which names a jail but never a source, takes this index for a jail's bans instead of its own.
CREATE INDEX bans_stats ON bans (source, jail, banned_at, address);
