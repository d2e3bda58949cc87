"""The CUBA benchmark of PyNN's ``examples/VAbenchmarks.py`` (Vogels & Abbott 2005; Brette et al. 2007), one script
for every PyNN backend: the simulator module is the first argument, and that import is the only line that differs
between ``pond.pynn`` and ``pyNN.nest``.

The model is PyNN's, unchanged (separate excitatory and inhibitory populations, ``FixedProbabilityConnector`` drawing
with a ``NumpyRNG``, uniform initial potentials from the same generator, recording of every spike and of ``v`` of two
cells). ``--n`` and ``--pconn`` scale it (the default is PyNN's 4000 cells at p = 0.02); ``--seeds`` runs it once per
seed of the ``NumpyRNG`` (``rngseed`` in PyNN's script), rebuilding with ``setup`` each time. The last output line is
one JSON object: per seed the excitatory and inhibitory rates (Hz), the synapse count, and the build and run times
(s) as PyNN's script measures them (``Timer``: build = populations, initial values, projections and recording set-up;
run = ``sim.run``).

Usage::

    python vogels_abbott_cuba.py pond.pynn [--n 4000] [--pconn 0.02] [--tstop 1000] [--seeds 98765] [--threads 1]
"""
import argparse
import importlib
import json
import warnings

from pyNN.random import NumpyRNG, RandomDistribution
from pyNN.utility import Timer

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("simulator", help="pond.pynn or pyNN.nest (any PyNN backend module)")
ap.add_argument("--n", type=int, default=4000)
ap.add_argument("--pconn", type=float, default=0.02)
ap.add_argument("--tstop", type=float, default=1000.0)
ap.add_argument("--seeds", default="98765")
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
warnings.simplefilter("ignore")

sim = importlib.import_module(args.simulator)

# === Define parameters (PyNN's VAbenchmarks.py, benchmark "CUBA") ===========================================
threads = args.threads
parallel_safe = True
n = args.n                  # number of cells
r_ei = 4.0                  # number of excitatory cells:number of inhibitory cells
pconn = args.pconn          # connection probability
dt = 0.1                    # (ms) simulation timestep
tstop = args.tstop          # (ms) simulaton duration
delay = 0.2
area = 20000.               # (µm²)
tau_m = 20.                 # (ms)
cm = 1.                     # (µF/cm²)
g_leak = 5e-5               # (S/cm²)
E_leak = -49.               # (mV)
v_thresh = -50.             # (mV)
v_reset = -60.              # (mV)
t_refrac = 5.               # (ms) (clamped at v_reset)
v_mean = -60.               # (mV) 'mean' membrane potential, for calculating CUBA weights
tau_exc = 5.                # (ms)
tau_inh = 10.               # (ms)
Gexc = 0.27                 # (nS)
Ginh = 4.5                  # (nS)
Erev_exc = 0.               # (mV)
Erev_inh = -80.             # (mV)
# scaled-down networks keep the number of inputs per cell (PyNN's n = 4000, p = 0.02 give 80)
weight_scale = (4000 * 0.02) / (n * pconn)

# === Calculate derived parameters =============================================================================
area = area * 1e-8                     # convert to cm²
cm = cm * area * 1000                  # convert to nF
Rm = 1e-6 / (g_leak * area)            # membrane resistance in MΩ
n_exc = int(round((n * r_ei / (1 + r_ei))))
n_inh = n - n_exc
celltype = sim.IF_curr_exp
w_exc = 1e-3 * Gexc * (Erev_exc - v_mean) * weight_scale   # (nA) weight of excitatory synapses
w_inh = 1e-3 * Ginh * (Erev_inh - v_mean) * weight_scale   # (nA)

results = []
for rngseed in [int(s) for s in args.seeds.split(",")]:
    timer = Timer()
    # on_grid: NEST's iaf_psc_exp / iaf_psc_delta, the models pond runs (pyNN.nest defaults to the precise-spike
    # iaf_psc_*_ps models, whose off-grid spike times change the rates by several percent at high rates)
    sim.setup(spike_precision="on_grid", timestep=dt, min_delay=delay, max_delay=1.0, threads=threads)
    cell_params = {'tau_m': tau_m, 'tau_syn_E': tau_exc, 'tau_syn_I': tau_inh, 'v_rest': E_leak,
                   'v_reset': v_reset, 'v_thresh': v_thresh, 'cm': cm, 'tau_refrac': t_refrac}
    timer.start()
    exc_cells = sim.Population(n_exc, celltype(**cell_params), label="Excitatory_Cells")
    inh_cells = sim.Population(n_inh, celltype(**cell_params), label="Inhibitory_Cells")
    rng = NumpyRNG(seed=rngseed, parallel_safe=parallel_safe)
    uniformDistr = RandomDistribution('uniform', low=v_reset, high=v_thresh, rng=rng)
    exc_cells.initialize(v=uniformDistr)
    inh_cells.initialize(v=uniformDistr)
    connector = sim.FixedProbabilityConnector(pconn, rng=rng)
    exc_syn = sim.StaticSynapse(weight=w_exc, delay=delay)
    inh_syn = sim.StaticSynapse(weight=w_inh, delay=delay)
    connections = {}
    connections['e2e'] = sim.Projection(exc_cells, exc_cells, connector, exc_syn, receptor_type='excitatory')
    connections['e2i'] = sim.Projection(exc_cells, inh_cells, connector, exc_syn, receptor_type='excitatory')
    connections['i2e'] = sim.Projection(inh_cells, exc_cells, connector, inh_syn, receptor_type='inhibitory')
    connections['i2i'] = sim.Projection(inh_cells, inh_cells, connector, inh_syn, receptor_type='inhibitory')
    exc_cells.record('spikes')
    inh_cells.record('spikes')
    exc_cells[0, 1].record('v')
    buildCPUTime = timer.diff()
    sim.run(tstop)
    simCPUTime = timer.diff()
    E_count = exc_cells.mean_spike_count()
    I_count = inh_cells.mean_spike_count()
    results.append({"seed": rngseed, "exc_rate": E_count * 1000.0 / tstop, "inh_rate": I_count * 1000.0 / tstop,
                    "synapses": int(sum(c.size() for c in connections.values())), "build_s": buildCPUTime,
                    "run_s": simCPUTime})
    sim.end()

print(json.dumps({"simulator": args.simulator, "n": n, "pconn": pconn, "tstop": tstop, "runs": results}))
