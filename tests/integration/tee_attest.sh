#!/usr/bin/env bash
# What `tbml run` hands a job besides the manifest's environment: the sim backend's attestation
# channel (TBML_TEE_ATTEST_FD, an inherited SOCK_SEQPACKET socket; a manifest cannot fake the
# variable), and, only for a manifest with --conf tbml.dist=mpi, the MPI launcher's variables and
# the job-secret paths. The channel answers a quote request with a simulated quote over the
# report data asked for.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
PY=/usr/bin/python3
cd "$WORK"
quiet "$TBML" keygen enclave --out enclave.pem
cat >env.py <<'EOF'
import os, socket, struct
names = sorted(k for k in os.environ if k not in ("PWD", "SHLVL", "_"))
print(" ".join(names))
fd = os.environ.get("TBML_TEE_ATTEST_FD")
if fd:
    s = socket.socket(fileno=int(fd))
    print("type", "seqpacket" if s.type == socket.SOCK_SEQPACKET else s.type)
    rd = bytes(range(64))
    s.send(b"TBAR" + struct.pack("<I", 1) + rd)
    resp = s.recv(70000)
    quote = resp[8:]
    print("status", struct.unpack("<I", resp[4:8])[0], "magic", quote[:8].decode(),
          "size", len(quote), "binds", quote[88:152] == rd)
    s.send(b"junk")
    resp = s.recv(70000)
    print("junk status", struct.unpack("<I", resp[4:8])[0], resp[8:].decode())
    s.detach()
EOF
quiet "$TBML" manifest --out sim.json --tee-backend sim --env TBML_TEE_ATTEST_FD=99 "$PY" env.py
quiet "$TBML" manifest --out mpi.json --tee-backend sim --conf tbml.dist=mpi "$PY" env.py
quiet "$TBML" manifest --out none.json --env TBML_TEE_ATTEST_FD=99 "$PY" env.py
for m in sim mpi none; do quiet "$TBML" sign --key enclave.pem $m.json; done

run env OMPI_COMM_WORLD_FAKE=1 PMIX_FAKE=2 TBML_DIST_KEYFILE=/k SECRET_FROM_HOST=1 "$TBML" run sim.json
check "sim: exit 0 ($(head -c 200 "$ERR_FILE"))" test "$RC" -eq 0
check "sim: the channel variable, no launcher variables, nothing from the host" \
  grep -qx "LC_ALL PATH TBML_LOG_LEVEL TBML_TEE_ATTEST_FD" "$OUT_FILE"
check "sim: the manifest's TBML_TEE_ATTEST_FD=99 was dropped" grep -q "^type seqpacket$" "$OUT_FILE"
check "sim: a quote over the report data asked for" \
  grep -qx "status 0 magic TBMLQUOT size 216 binds True" "$OUT_FILE"
check "sim: a bad request is refused with a reason" \
  grep -qx "junk status 1 not a quote request of this protocol" "$OUT_FILE"

run env OMPI_COMM_WORLD_FAKE=1 PMIX_FAKE=2 PMI_X=3 MPI_LOCALNRANKS=2 TBML_DIST_KEYFILE=/k \
  TBML_DIST_PASSWORD_FILE=/p SECRET_FROM_HOST=1 LD_PRELOAD= "$TBML" run mpi.json
check "tbml.dist=mpi: exit 0" test "$RC" -eq 0
check "tbml.dist=mpi: launcher variables and job-secret paths pass, nothing else" \
  grep -qx "LC_ALL MPI_LOCALNRANKS OMPI_COMM_WORLD_FAKE PATH PMIX_FAKE PMI_X TBML_DIST_KEYFILE TBML_DIST_PASSWORD_FILE TBML_LOG_LEVEL TBML_TEE_ATTEST_FD" "$OUT_FILE"
run env OMPI_COMM_WORLD_SIZE=2 "$TBML" run sim.json
check "an MPI launcher without tbml.dist=mpi: warned" grep -q "no --conf tbml.dist=mpi" "$ERR_FILE"

run "$TBML" run none.json
check "none: no channel, and the manifest cannot fake one" grep -qx "LC_ALL PATH TBML_LOG_LEVEL" "$OUT_FILE"
finish
