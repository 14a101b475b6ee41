-- Bans by jail, source and time of ban, for `stats`: its counts per hour and per day are range
-- counts over this index, and it reads the address of every ban of the period from the index
-- alone, never from the table (whose rows carry the matched log lines). A new ban lands at the end
-- of its (jail, source), the cheap end of a B-tree to keep.
CREATE INDEX bans_stats ON bans (jail, source, banned_at, address);
