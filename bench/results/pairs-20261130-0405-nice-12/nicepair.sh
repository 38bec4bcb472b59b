#!/bin/bash
# nicepair.sh NAME RATE ROUNDS: A = as shipped, B = every controller thread reniced to -5; alternating
N=$1; R=$2; ROUNDS=$3
mkdir -p /tmp/prof/$N
for round in $(seq 1 $ROUNDS); do
  for v in A B; do
    cd /tmp/benchA
    PYTHONPATH=/tmp/benchA /work/main/.venv/bin/python -m bench.journey --rates $R --paths journey --max-probes 0 --seconds 60 --agents 200 --talk 10 --out /tmp/prof/$N/$v$round > /tmp/prof/$N/$v$round.log 2>&1 &
    B=$!
    if [ $v = B ]; then
      while kill -0 $B 2>/dev/null; do
        for P in $(pgrep -f "hotline run"); do for t in /proc/$P/task/*; do renice -n -5 -p $(basename $t) >/dev/null 2>&1; done; done
        sleep 2
      done
    fi
    wait $B
  done
done
