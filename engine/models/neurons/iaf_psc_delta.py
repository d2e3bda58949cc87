r"""``iaf_psc_delta``: leaky integrate-and-fire neuron with delta synapses (NEST's ``iaf_psc_delta``).

.. math::

    \tau_m \frac{dV}{dt} = -(V - E_L) + \frac{\tau_m}{C_m}\,(I_e + I_{stim}(t)) + \sum_k w_k\,\tau_m\,\delta(t - t_k)

A presynaptic spike makes :math:`V` jump by its weight :math:`w` (mV) inside the step it arrives in, before the
threshold test (as NEST does); spikes arriving while the neuron is refractory are discarded. When
:math:`V \ge V_{th}` the neuron spikes, :math:`V` is set to :math:`V_{reset}` and held until :math:`t_{ref}` after
the spike. The subthreshold dynamics are integrated exactly (:mod:`engine.models.neurons.lif`). The exact
event-driven mode (:mod:`engine.run.event_driven`) runs this model in continuous time.

=============  =======  =================  ====================================================
Parameter      Default  Symbol             Meaning
=============  =======  =================  ====================================================
``tau_m``      10 ms    :math:`\tau_m`     membrane time constant, > 0
``C_m``        250 pF   :math:`C_m`        membrane capacitance, > 0
``E_L``        -65 mV   :math:`E_L`        resting potential
``V_th``       -50 mV   :math:`V_{th}`     spike threshold
``V_reset``    -65 mV   :math:`V_{reset}`  reset potential, < ``V_th``
``t_ref``      2 ms     :math:`t_{ref}`    absolute refractory period, >= 0, a multiple of dt
``I_e``        0 pA     :math:`I_e`        constant input current (one number or one value per neuron)
=============  =======  =================  ====================================================

``tau_syn_ex`` and ``tau_syn_in`` are accepted and not used (one parameter set serves both LIF models).

========  ===============  ===========================================================
State     Initial value    Meaning
========  ===============  ===========================================================
``V``     ``V_init``       membrane potential (mV)
``I_ex``  0 mV             excitatory input buffered for the step (a voltage jump)
``I_in``  0 mV             inhibitory input buffered for the step (a voltage jump)
========  ===============  ===========================================================
"""
from dataclasses import replace

import numpy as np
from numba import njit

from engine.models.neurons import lif
from engine.models.spec import Brian2Form, NeuronModel, StateVariable

KERNEL = 1  # this model's update in the compiled dispatch list (engine.kernels.neurons)


@njit(cache=True, inline="always")
def update(V, Iex, Iin, ref, Iext, flags, lo, n, row, rs, use_iext):
    """One exact step of neurons ``lo`` to ``lo + n - 1``; input queued in ``Iex + Iin`` is added, or dropped if
    refractory."""
    c0 = row[lif.PAR_C0]
    p22 = row[lif.PAR_P22]
    p20 = row[lif.PAR_P20]
    vth = row[lif.PAR_VTH]
    vr = row[lif.PAR_VRESET]
    for k in range(n):
        i = lo + np.uint64(k)
        v = V[i]
        r = ref[i]
        vn = c0 + v * p22 + (Iex[i] + Iin[i])
        if use_iext:
            vn += Iext[i] * p20
        vn = v if r > 0 else vn
        r = r - 1 if r > 0 else r
        Iex[i] = 0.0
        Iin[i] = 0.0
        s = vn >= vth
        V[i] = vr if s else vn
        ref[i] = rs if s else r
        flags[i] = s


MODEL = NeuronModel(
    name="iaf_psc_delta",
    summary="LIF with delta synapses (NEST's iaf_psc_delta): a spike makes V jump by its weight (mV), dropped while "
            "refractory; I_ex and I_in are the step's input buffers",
    # tau_syn_ex/in are accepted and not used, so that one parameter set serves both LIF models (as pond always had)
    parameters=lif.MEMBRANE + tuple(replace(p, meaning=p.meaning + " (not used by iaf_psc_delta)", time_constant=False)
                                    for p in lif.SYNAPTIC),
    state=(lif.STATE[0], StateVariable("I_ex", "mV", "excitatory input buffered for the step", 1),
           StateVariable("I_in", "mV", "inhibitory input buffered for the step", 2)),
    weight_unit="mV",
    input_in_update=True,
    kernel=KERNEL,
    parameter_row=lif.parameter_row,
    check=lif.check_reset_below_threshold,
    exact_event=True,
    brian2=Brian2Form(
        equations="""dv/dt = -(v - E_L)/tau_m + I_ext/C_m : volt (unless refractory)
                     I_ext : amp""",
        weight_unit="volt", on_pre="v_post += {w} * int(not_refractory_post)", before_thresholds=True),
)
