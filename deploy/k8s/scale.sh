#!/bin/sh
# Scales juno's StatefulSet and its Raft membership together, one member at a time.
#
#   deploy/k8s/scale.sh [options] <replicas>
#
# Down: for each ordinal from the highest to <replicas>, it removes the member through the API
# (DELETE /api/v3/cluster/members/<pod>) once the members that stay hold a quorum among
# themselves, waits until the removal is committed, then scales the StatefulSet below that pod.
# Up: it scales the StatefulSet, then adds every pod that is no member yet (POST
# /api/v3/cluster/members): it joins as a learner, the leader promotes it to voter once it has
# caught up, and the script waits for that before it adds the next one. A pod at or beyond the
# initial size (JUNO_STATEFULSET_REPLICAS) starts in join mode by itself.
#
# It is a reconciler: run it again after an interruption and it finishes the job. The API is
# called from inside a pod that stays (kubectl exec ... node), which holds the API token, the
# ports and the peer domain in its environment, so no token passes through this machine.
#
# Refused: fewer than 3 members unless --force (a cluster of 1 or 2 survives no failure), never
# fewer than 1; a removal that would leave the remaining members without a Ready majority; and,
# unless --force, a founding pod (ordinal below the initial size) coming back without its volume,
# which would found a second cluster with the initial member list (deploy/README.md, "Scaling").
#
# Needs kubectl (or $KUBECTL) with the rights to get, scale and exec into the StatefulSet's pods.
# test/deploy/scale.test.ts runs it against a fake kubectl and a fake membership API.

set -eu

PROGRAM=scale.sh
STATEFULSET=juno-phase3
CONTAINER=juno-orchestrator
NAMESPACE=
VIA=
FORCE=false
DRY_RUN=false
TIMEOUT_SECONDS=600
KUBECTL=${KUBECTL:-kubectl}
POLL_SECONDS=${JUNO_SCALE_POLL_SECONDS:-2}
# A peer list holds at most 64 members (PEERS_MAX in src/config/peers.ts).
REPLICAS_MAX=64
QUORUM_SAFE_MIN=3

usage() {
  cat <<EOF
usage: $PROGRAM [options] <replicas>

Scales the StatefulSet and juno's Raft membership together, one member at a time.

options:
  -n, --namespace <ns>        the namespace (default: kubectl's current one)
  -s, --statefulset <name>    the StatefulSet (default: juno-phase3)
  -c, --container <name>      juno's container in the pods (default: juno-orchestrator)
      --via <pod>             the pod the API is called from (default: <statefulset>-0)
      --timeout <seconds>     how long each step may take (default: 600)
      --force                 allow 1 or 2 members, and a founding pod without its volume
      --dry-run               say what would be done, change nothing
  -h, --help                  this text

environment: KUBECTL (default: kubectl), JUNO_SCALE_POLL_SECONDS (default: 2)
EOF
}

# Refuses the arguments: exit code 2, as for every usage error.
usage_error() {
  echo "$PROGRAM: $1" >&2
  echo "run '$PROGRAM --help' for the options" >&2
  exit 2
}

fail() {
  echo "$PROGRAM: error: $1" >&2
  exit 1
}

say() {
  echo "$PROGRAM: $1"
}

is_whole_number() {
  case $1 in
    '' | *[!0-9]*) return 1 ;;
    *) return 0 ;;
  esac
}

# ---------------------------------------------------------------- arguments

TARGET=
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    -n | --namespace | -s | --statefulset | -c | --container | --via | --timeout)
      [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"
      case $1 in
        -n | --namespace) NAMESPACE=$2 ;;
        -s | --statefulset) STATEFULSET=$2 ;;
        -c | --container) CONTAINER=$2 ;;
        --via) VIA=$2 ;;
        --timeout) TIMEOUT_SECONDS=$2 ;;
      esac
      shift 2
      ;;
    --namespace=* | --statefulset=* | --container=* | --via=* | --timeout=*)
      value=${1#*=}
      [ -n "$value" ] || usage_error "${1%%=*} needs a value"
      case $1 in
        --namespace=*) NAMESPACE=$value ;;
        --statefulset=*) STATEFULSET=$value ;;
        --container=*) CONTAINER=$value ;;
        --via=*) VIA=$value ;;
        --timeout=*) TIMEOUT_SECONDS=$value ;;
      esac
      shift
      ;;
    --force)
      FORCE=true
      shift
      ;;
    --dry-run)
      DRY_RUN=true
      shift
      ;;
    --)
      shift
      break
      ;;
    -*) usage_error "unknown option $1" ;;
    *)
      [ -z "$TARGET" ] || usage_error "unexpected argument $1: give one replica count"
      TARGET=$1
      shift
      ;;
  esac
done
if [ $# -gt 0 ]; then
  [ -z "$TARGET" ] && [ $# -eq 1 ] || usage_error "unexpected argument $1: give one replica count"
  TARGET=$1
fi

[ -n "$TARGET" ] || usage_error "give the number of replicas, for example: $PROGRAM 7"
is_whole_number "$TARGET" || usage_error "the replica count must be a whole number, got '$TARGET'"
TARGET=$((TARGET + 0))
[ "$TARGET" -ge 1 ] || usage_error "a cluster needs at least 1 member, got $TARGET"
[ "$TARGET" -le "$REPLICAS_MAX" ] || usage_error "at most $REPLICAS_MAX members, got $TARGET"
if [ "$TARGET" -lt "$QUORUM_SAFE_MIN" ] && [ "$FORCE" != true ]; then
  usage_error "refusing $TARGET members: fewer than $QUORUM_SAFE_MIN survive no failure (one lost member stops every write); add --force to do it anyway"
fi
is_whole_number "$TIMEOUT_SECONDS" && [ "$TIMEOUT_SECONDS" -ge 1 ] ||
  usage_error "--timeout must be a whole number of seconds, got '$TIMEOUT_SECONDS'"
is_whole_number "$POLL_SECONDS" || usage_error "JUNO_SCALE_POLL_SECONDS must be a whole number, got '$POLL_SECONDS'"
POLL_MS=$((POLL_SECONDS * 1000))
case $STATEFULSET in
  '' | *[!a-z0-9-]*) usage_error "'$STATEFULSET' is not a StatefulSet name" ;;
esac
VIA=${VIA:-$STATEFULSET-0}
case $VIA in
  "$STATEFULSET"-*)
    via_ordinal=${VIA##*-}
    is_whole_number "$via_ordinal" || usage_error "--via must be a pod of $STATEFULSET, got '$VIA'"
    [ "$via_ordinal" -lt "$TARGET" ] || usage_error "--via $VIA would be removed when scaling to $TARGET; call through a pod that stays"
    ;;
  *) usage_error "--via must be a pod of $STATEFULSET, got '$VIA'" ;;
esac

# ---------------------------------------------------------------- kubectl and the API

kube() {
  if [ -n "$NAMESPACE" ]; then
    $KUBECTL --namespace "$NAMESPACE" "$@"
  else
    $KUBECTL "$@"
  fi
}

# The API client run inside a pod, once per step so that each step costs one `kubectl exec`:
#   node -e "$API_CLIENT" ready | members | add <id> <timeout s> <poll ms> | remove <id> <timeout s> <poll ms>
# members prints "<id> voter|learner" per member. add adds the pod unless it is a member (a retry
# after a lost answer finds it added), with the addresses the pod derives itself (<id>.
# <JUNO_PEER_DOMAIN> at the pod's ports), then waits until the leader has promoted it. remove
# removes it unless it is gone, then waits until a leader is known again (the leader may have
# removed itself). Both retry what the API refuses for now (no leader, a change pending) until the
# timeout. Exit 0 when done, 3 otherwise, with the reason on stderr. JUNO_SCALE_API_URL, unset in
# a pod, lets the tests point the client at a fake API.
API_CLIENT='
const [op, id, timeoutSeconds, pollMs] = process.argv.slice(1);
const env = process.env;
const deadline = Date.now() + Number(timeoutSeconds || 600) * 1000;
const portOf = (address, fallback) => (address || "").split(":").pop() || fallback;
const httpPort = portOf(env.JUNO_HTTP_ADDR, "8080");
const raftPort = portOf(env.JUNO_RAFT_ADDR, "9090");
const tls = !env.JUNO_SCALE_API_URL && Boolean(env.JUNO_TLS_CERT);
const base = env.JUNO_SCALE_API_URL || (tls ? "https" : "http") + "://127.0.0.1:" + httpPort;
const headers = { "content-type": "application/json" };
if (env.JUNO_API_TOKEN) headers.authorization = "Bearer " + env.JUNO_API_TOKEN;
const call = (method, path, body) =>
  new Promise((resolve, reject) => {
    const url = new URL(base + path);
    const options = { method, headers, timeout: 30000 };
    if (url.protocol === "https:") {
      // The pod dials itself on 127.0.0.1, but its certificate names <pod>.<JUNO_PEER_DOMAIN>:
      // check that name, against the cluster CA the pod trusts its peers by.
      const name = env.RAFT_NODE_ID + "." + env.JUNO_PEER_DOMAIN;
      options.ca = require("node:fs").readFileSync(env.JUNO_PEER_TLS_CA || env.JUNO_TLS_CLIENT_CA);
      options.servername = name;
      options.checkServerIdentity = (_host, cert) => require("node:tls").checkServerIdentity(name, cert);
    }
    const lib = url.protocol === "https:" ? require("node:https") : require("node:http");
    const request = lib.request(url, options, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => {
        const ok = response.statusCode >= 200 && response.statusCode < 300;
        if (ok) resolve(text);
        else reject(new Error(method + " " + path + ": " + response.statusCode + " " + text));
      });
    });
    request.on("timeout", () => request.destroy(new Error(method + " " + path + ": no answer in 30 s")));
    request.on("error", reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
const members = async () => JSON.parse(await call("GET", "/api/v3/cluster/members")).members;
const until = async (what, done) => {
  for (let last = null; ; ) {
    try {
      if (await done()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error("gave up waiting for " + what + (last ? ": " + last.message : ""));
    await new Promise((resolve) => setTimeout(resolve, Number(pollMs || 1000)));
  }
};
const listed = async () => (await members()).find((member) => member.id === id);
const operations = {
  ready: () => call("GET", "/readyz"),
  members: async () => {
    for (const member of await members()) console.log(member.id + " " + (member.voter ? "voter" : "learner"));
  },
  add: async () => {
    const domain = env.JUNO_PEER_DOMAIN;
    await until("the addition of " + id, async () => {
      if ((await listed()) !== undefined) return true;
      const address = (port) => id + "." + domain + ":" + port;
      await call("POST", "/api/v3/cluster/members", { id, raft_addr: address(raftPort), http_addr: address(httpPort) });
      return true;
    });
    await until(id + " to catch up and become a voter", async () => (await listed())?.voter === true);
  },
  remove: async () => {
    await until("the removal of " + id, async () => {
      if ((await listed()) === undefined) return true;
      await call("DELETE", "/api/v3/cluster/members/" + encodeURIComponent(id));
      return false;
    });
    await until("a leader after removing " + id, async () => (await call("GET", "/readyz"), true));
  },
};
if (!Object.hasOwn(operations, op)) {
  console.error("unknown operation " + op);
  process.exit(2);
}
operations[op]().then(
  () => process.exit(0),
  (error) => {
    console.error(error.message);
    process.exit(3);
  },
);
'

# The API, from the pod given as VIA (pod 0 unless --via, which every size keeps).
api() {
  kube exec "$VIA" -c "$CONTAINER" -- node -e "$API_CLIENT" "$@"
}

members() {
  api members
}

# role_in <members as listed> <pod>: voter, learner or absent.
role_in() {
  role=$(printf '%s\n' "$1" | awk -v id="$2" '$1 == id { print $2 }')
  echo "${role:-absent}"
}

pod_is_ready() {
  [ "$(kube get pod "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

pod_is_running() {
  [ "$(kube get pod "$1" -o 'jsonpath={.status.phase}' 2>/dev/null)" = Running ]
}

# wait_until <what> <command...>: runs the command until it succeeds, at most TIMEOUT_SECONDS.
wait_until() {
  what=$1
  shift
  deadline=$(($(date +%s) + TIMEOUT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "gave up after ${TIMEOUT_SECONDS}s waiting for $what"
    sleep "$POLL_SECONDS"
  done
}

ordinal_of() {
  echo "${1##*-}"
}

# ---------------------------------------------------------------- what is there

current=$(kube get statefulset "$STATEFULSET" -o 'jsonpath={.spec.replicas}') ||
  fail "cannot read the StatefulSet $STATEFULSET"
is_whole_number "$current" || fail "the StatefulSet $STATEFULSET has no replica count ('$current')"
initial=$(kube get statefulset "$STATEFULSET" -o "jsonpath={.spec.template.spec.containers[?(@.name==\"$CONTAINER\")].env[?(@.name==\"JUNO_STATEFULSET_REPLICAS\")].value}")
is_whole_number "$initial" ||
  fail "the container $CONTAINER of $STATEFULSET sets no JUNO_STATEFULSET_REPLICAS: its peers are not derived from the StatefulSet, so this script cannot scale it"
claim=$(kube get statefulset "$STATEFULSET" -o 'jsonpath={.spec.volumeClaimTemplates[0].metadata.name}')

api ready >/dev/null 2>&1 ||
  fail "$VIA is not ready (no leader known, or not caught up): the cluster must be healthy before it is resized"
list=$(members) || fail "cannot list the members through $VIA"
highest=$((current - 1))
for id in $(printf '%s\n' "$list" | cut -d' ' -f1); do
  case $id in
    "$STATEFULSET"-*)
      ordinal=$(ordinal_of "$id")
      if is_whole_number "$ordinal" && [ "$ordinal" -gt "$highest" ]; then highest=$ordinal; fi
      ;;
  esac
done
say "$STATEFULSET: $current replicas (initial size $initial), $(printf '%s\n' "$list" | grep -c .) members; target $TARGET"
if [ $((TARGET % 2)) -eq 0 ]; then
  say "note: $TARGET members tolerate no more failures than $((TARGET - 1)); odd sizes are the usual choice"
fi

# ---------------------------------------------------------------- down

# quorum_without <members as listed> <pod>: whether the voters other than the pod are a majority
# of Ready pods among themselves: the removal is committed by them, and they alone keep the
# cluster going afterwards.
quorum_without() {
  voters=0
  ready=0
  for id in $(printf '%s\n' "$1" | awk '$2 == "voter" { print $1 }'); do
    [ "$id" != "$2" ] || continue
    voters=$((voters + 1))
    if pod_is_ready "$id"; then ready=$((ready + 1)); fi
  done
  [ "$ready" -ge $((voters / 2 + 1)) ]
}

ordinal=$highest
while [ "$ordinal" -ge "$TARGET" ]; do
  pod=$STATEFULSET-$ordinal
  list=$(members) || fail "cannot list the members through $VIA"
  if [ "$(role_in "$list" "$pod")" != absent ]; then
    quorum_without "$list" "$pod" ||
      fail "removing $pod would leave $voters voters of which only $ready are Ready, fewer than a majority; bring the others back first"
    if [ "$DRY_RUN" = true ]; then
      say "would remove the member $pod"
    else
      say "removing the member $pod"
      api remove "$pod" "$TIMEOUT_SECONDS" "$POLL_MS" || fail "could not remove the member $pod"
    fi
  fi
  if [ "$current" -gt "$ordinal" ]; then
    if [ "$DRY_RUN" = true ]; then
      say "would scale $STATEFULSET to $ordinal"
    else
      say "scaling $STATEFULSET to $ordinal"
      kube scale statefulset "$STATEFULSET" --replicas="$ordinal" >/dev/null
      kube wait --for=delete "pod/$pod" --timeout="${TIMEOUT_SECONDS}s" >/dev/null 2>&1 ||
        fail "the pod $pod did not go away within ${TIMEOUT_SECONDS}s"
    fi
    current=$ordinal
  fi
  ordinal=$((ordinal - 1))
done
if [ "$highest" -ge "$TARGET" ] && [ -n "$claim" ]; then
  say "the volumes of the removed pods are kept ($claim-$STATEFULSET-<ordinal>); a pod that comes back later catches up from its own data"
fi

# ---------------------------------------------------------------- up

if [ "$TARGET" -gt "$current" ]; then
  # A founding pod (ordinal below the initial size) that starts with an empty volume founds a
  # cluster of its own with the initial member list: refuse unless told otherwise.
  ordinal=$current
  while [ "$ordinal" -lt "$TARGET" ] && [ "$ordinal" -lt "$initial" ]; do
    volume=$claim-$STATEFULSET-$ordinal
    if [ -n "$claim" ] && [ -z "$(kube get pvc "$volume" --ignore-not-found -o name)" ]; then
      [ "$FORCE" = true ] ||
        fail "$STATEFULSET-$ordinal is a founding pod (ordinal below $initial) and its volume $volume is gone: it would start a second cluster. Use --force only if the other founders are gone too"
      say "warning: $STATEFULSET-$ordinal starts without its volume (--force)"
    fi
    ordinal=$((ordinal + 1))
  done
  if [ "$DRY_RUN" = true ]; then
    say "would scale $STATEFULSET to $TARGET"
  else
    say "scaling $STATEFULSET to $TARGET"
    kube scale statefulset "$STATEFULSET" --replicas="$TARGET" >/dev/null
  fi
fi

# One listing for the whole loop: only this loop changes the members, one pod at a time.
list=$(members) || fail "cannot list the members through $VIA"
ordinal=0
while [ "$ordinal" -lt "$TARGET" ]; do
  pod=$STATEFULSET-$ordinal
  ordinal=$((ordinal + 1))
  [ "$(role_in "$list" "$pod")" != voter ] || continue
  if [ "$DRY_RUN" = true ]; then
    say "would add the member $pod"
    continue
  fi
  say "adding the member $pod, and waiting for it to catch up and become a voter"
  wait_until "the pod $pod to run" pod_is_running "$pod"
  api add "$pod" "$TIMEOUT_SECONDS" "$POLL_MS" || fail "could not add the member $pod"
  wait_until "$pod to be Ready" pod_is_ready "$pod"
done

if [ "$DRY_RUN" = true ]; then
  say "dry run: nothing was changed"
else
  say "$STATEFULSET has $TARGET replicas and $TARGET voters"
fi
