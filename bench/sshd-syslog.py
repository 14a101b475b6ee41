"""Writes sshd's log calls to the journal the way sshd does: syslog(3) datagrams on the local
syslog socket, for bench/journal-bench.ts.

Each stdin line `PID<TAB>MESSAGE` becomes one datagram `<38>Mmm dd hh:mm:ss sshd[PID]: MESSAGE`
(facility auth, priority info, local time, as glibc's syslog() frames it) on journald's
/run/systemd/journal/dev-log, so journald records SYSLOG_IDENTIFIER=sshd and SYSLOG_PID=PID per
entry. Sending blocks while journald's socket queue is full: nothing is dropped. Run it through a
symlink named sshd (to python3) so the journal records _COMM=sshd, as for sshd itself.

Usage: sshd sshd-syslog.py < lines
"""
import socket
import sys
import time

SOCKET = '/run/systemd/journal/dev-log'

out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
out.connect(SOCKET)
second = None
head = b''
for line in sys.stdin.buffer:
    now = int(time.time())
    if now != second:
        second, head = now, time.strftime('<38>%b %e %H:%M:%S ', time.localtime(now)).encode()
    pid, _, message = line.rstrip(b'\n').partition(b'\t')
    out.send(head + b'sshd[' + pid + b']: ' + message)
