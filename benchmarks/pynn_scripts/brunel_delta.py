"""A Brunel (2000) network in PyNN, after PyNN's ``examples/brunel.py`` with the delta-synapse neurons of Brunel's
paper (``IF_curr_delta``; PyNN's example uses alpha currents, which pond does not run), one script for every PyNN
backend: the simulator module is the first argument, and that import is the only line that differs between
``pond.pynn`` and ``pyNN.nest``.

As PyNN's example: excitatory and inhibitory populations, one Poisson source per cell (``SpikeSourcePoisson``
populations, ``OneToOneConnector``), ``FixedProbabilityConnector(epsilon)`` drawing with a ``NumpyRNG``, uniform
initial potentials between rest and threshold from the same generator, case C of Brunel's Table 1 (g = 5, eta = 2:
asynchronous irregular). Rates are counted after ``--warmup`` ms. ``--order`` sets the size (N_E = 4 order,
N_I = order; PyNN's example runs order 1000 after its downscaling). The last output line is one JSON object: per
seed the excitatory and inhibitory rates (Hz), the synapse count, and the build and run times (s).

Usage::

    python brunel_delta.py pond.pynn [--order 1000] [--simtime 1000] [--seeds 12345789] [--threads 1]
"""
import argparse
import importlib
import json
import warnings

from pyNN.random import NumpyRNG, RandomDistribution
from pyNN.utility import Timer

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("simulator", help="pond.pynn or pyNN.nest (any PyNN backend module)")
ap.add_argument("--order", type=int, default=1000)
ap.add_argument("--simtime", type=float, default=1000.0)
ap.add_argument("--warmup", type=float, default=200.0, help="ms left out of the rates (default 200)")
ap.add_argument("--seeds", default="12345789")
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
warnings.simplefilter("ignore")

sim = importlib.import_module(args.simulator)

# === Define parameters (Brunel 2000, case C; PyNN's brunel.py) ================================================
order = args.order
epsilon = 0.1       # connectivity: proportion of neurons each neuron projects to
eta = 2.0           # rel rate of external input
g = 5.0             # rel strength of inhibitory synapses
J = 0.1             # synaptic weight [mV]
delay = 1.5         # synaptic delay, all connections [ms]
tauMem = 20.0       # neuron membrane time constant [ms]
tauRef = 2.0        # refractory time [ms]
U0 = 0.0            # resting potential [mV]
theta = 20.0        # threshold
V_reset = 10.0      # reset potential [mV]
simtime = args.simtime
dt = 0.1

NE = 4 * order
NI = 1 * order
CE = int(epsilon * NE)
JE = J
JI = -g * JE
nu_thresh = theta / (J * CE * tauMem)
nu_ext = eta * nu_thresh
p_rate = 1000.0 * nu_ext * CE       # external input rate per neuron (Hz)

cell_params = {'tau_m': tauMem, 'tau_refrac': tauRef, 'v_rest': U0, 'v_reset': V_reset, 'v_thresh': theta,
               'cm': 0.25}

results = []
for seed in [int(s) for s in args.seeds.split(",")]:
    timer = Timer()
    # on_grid: NEST's iaf_psc_exp / iaf_psc_delta, the models pond runs (pyNN.nest defaults to the precise-spike
    # iaf_psc_*_ps models, whose off-grid spike times change the rates by several percent at high rates)
    sim.setup(spike_precision="on_grid", timestep=dt, min_delay=dt, max_delay=delay, threads=args.threads,
              rng_seed=seed)
    timer.start()
    rng = NumpyRNG(seed, parallel_safe=True)
    celltype = sim.IF_curr_delta(**cell_params)
    E_net = sim.Population(NE, celltype, label="E_net")
    I_net = sim.Population(NI, celltype, label="I_net")
    uniformDistr = RandomDistribution('uniform', low=U0, high=theta, rng=rng)
    E_net.initialize(v=uniformDistr)
    I_net.initialize(v=uniformDistr)
    source_type = sim.SpikeSourcePoisson(rate=p_rate)
    expoisson = sim.Population(NE, source_type, label="expoisson")
    inpoisson = sim.Population(NI, source_type, label="inpoisson")
    E_net.record('spikes')
    I_net.record('spikes')
    connector = sim.FixedProbabilityConnector(epsilon, rng=rng)
    E_syn = sim.StaticSynapse(weight=JE, delay=delay)
    I_syn = sim.StaticSynapse(weight=JI, delay=delay)
    ext_Connector = sim.OneToOneConnector()
    ext_syn = sim.StaticSynapse(weight=JE, delay=dt)
    prjs = [sim.Projection(E_net, E_net, connector, E_syn, receptor_type="excitatory"),
            sim.Projection(I_net, E_net, connector, I_syn, receptor_type="inhibitory"),
            sim.Projection(expoisson, E_net, ext_Connector, ext_syn, receptor_type="excitatory"),
            sim.Projection(E_net, I_net, connector, E_syn, receptor_type="excitatory"),
            sim.Projection(I_net, I_net, connector, I_syn, receptor_type="inhibitory"),
            sim.Projection(inpoisson, I_net, ext_Connector, ext_syn, receptor_type="excitatory")]
    buildCPUTime = timer.diff()
    sim.run(simtime)
    simCPUTime = timer.diff()
    # rates after the warm-up: pyNN.nest ignores initialize(v=...) on IF_curr_delta (its NEST model has no
    # PyNN name for V_m) and starts every cell at NEST's default -70 mV, pond at the drawn values
    counts = [sum(int((st.magnitude >= args.warmup).sum()) for st in pop.get_data().segments[0].spiketrains)
              for pop in (E_net, I_net)]
    window = (simtime - args.warmup) / 1000.0
    results.append({"seed": seed, "exc_rate": counts[0] / (NE * window), "inh_rate": counts[1] / (NI * window),
                    "synapses": int(sum(p.size() for p in prjs)), "build_s": buildCPUTime, "run_s": simCPUTime})
    sim.end()

print(json.dumps({"simulator": args.simulator, "order": order, "simtime": simtime, "runs": results}))
