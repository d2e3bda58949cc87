r"""``iaf_psc_exp``: leaky integrate-and-fire neuron with exponential synaptic currents (NEST's ``iaf_psc_exp``).

.. math::

    \tau_m \frac{dV}{dt} = -(V - E_L) + \frac{\tau_m}{C_m}\,(I_{ex} + I_{in} + I_e + I_{stim}(t)),\qquad
    \tau_{syn,ex} \frac{dI_{ex}}{dt} = -I_{ex}, \qquad \tau_{syn,in} \frac{dI_{in}}{dt} = -I_{in}

A presynaptic spike adds its weight :math:`w` (pA) to :math:`I_{ex}` if :math:`w \ge 0`, else to :math:`I_{in}`, at
the end of the step it arrives in. When :math:`V \ge V_{th}` the neuron spikes, :math:`V` is set to
:math:`V_{reset}` and held there (not integrated) until :math:`t_{ref}` after the spike; the synaptic currents keep
decaying meanwhile. Integration is exact for the linear subthreshold dynamics (Rotter & Diesmann 1999): each step of
length :math:`h` applies the matrix exponential of the system (:mod:`engine.models.neurons.lif`), so there is no
Euler error for any ``dt``; :math:`\tau_m = \tau_{syn}` uses the analytic limit (no division by zero).

==============  =======  =====================  =======================================================
Parameter       Default  Symbol                 Meaning
==============  =======  =====================  =======================================================
``tau_m``       10 ms    :math:`\tau_m`         membrane time constant, > 0
``C_m``         250 pF   :math:`C_m`            membrane capacitance, > 0
``E_L``         -65 mV   :math:`E_L`            resting potential
``V_th``        -50 mV   :math:`V_{th}`         spike threshold
``V_reset``     -65 mV   :math:`V_{reset}`      reset potential, < ``V_th``
``t_ref``       2 ms     :math:`t_{ref}`        absolute refractory period, >= 0, a multiple of dt
``I_e``         0 pA     :math:`I_e`            constant input current (one number or one value per neuron)
``tau_syn_ex``  2 ms     :math:`\tau_{syn,ex}`  excitatory synaptic time constant, > 0
``tau_syn_in``  2 ms     :math:`\tau_{syn,in}`  inhibitory synaptic time constant, > 0
==============  =======  =====================  =======================================================

========  ===============  =============================
State     Initial value    Meaning
========  ===============  =============================
``V``     ``V_init``       membrane potential (mV)
``I_ex``  0 pA             excitatory synaptic current
``I_in``  0 pA             inhibitory synaptic current
========  ===============  =============================

References
----------
Rotter S, Diesmann M (1999) Exact digital simulation of time-invariant linear systems with applications to
neuronal modeling. Biol Cybern 81:381-402.
"""
import numpy as np
from numba import njit

from engine.models.neurons import lif
from engine.models.spec import Brian2Form, NeuronModel

KERNEL = 0  # this model's update in the compiled dispatch list (engine.kernels.neurons)


@njit(cache=True, inline="always")
def update(V, Iex, Iin, ref, Iext, flags, lo, n, row, rs, use_iext):
    """One exact step of neurons ``lo`` to ``lo + n - 1`` with parameter-table ``row``; sets ``flags`` where the
    threshold is crossed. The row is read into locals before the loop (the state arrays could alias it), and the
    index is unsigned, so numba emits no negative-index wrap-around and LLVM vectorises the loop."""
    c0 = row[lif.PAR_C0]
    p22 = row[lif.PAR_P22]
    p20 = row[lif.PAR_P20]
    p21e = row[lif.PAR_P21EX]
    p21i = row[lif.PAR_P21IN]
    p11e = row[lif.PAR_P11EX]
    p11i = row[lif.PAR_P11IN]
    vth = row[lif.PAR_VTH]
    vr = row[lif.PAR_VRESET]
    for k in range(n):
        i = lo + np.uint64(k)
        v = V[i]
        ie = Iex[i]
        ii = Iin[i]
        r = ref[i]
        vn = c0 + v * p22 + ie * p21e + ii * p21i
        if use_iext:  # loop-invariant: LLVM compiles one loop per case
            vn += Iext[i] * p20
        vn = v if r > 0 else vn
        r = r - 1 if r > 0 else r
        Iex[i] = ie * p11e
        Iin[i] = ii * p11i
        s = vn >= vth
        V[i] = vr if s else vn
        ref[i] = rs if s else r
        flags[i] = s


MODEL = NeuronModel(
    name="iaf_psc_exp",
    summary="LIF with exponential synaptic currents (NEST's iaf_psc_exp): a spike adds its weight (pA) to I_ex or "
            "I_in",
    parameters=lif.MEMBRANE + lif.SYNAPTIC,
    state=lif.STATE,
    weight_unit="pA",
    input_in_update=False,
    kernel=KERNEL,
    parameter_row=lif.parameter_row,
    check=lif.check_reset_below_threshold,
    brian2=Brian2Form(
        equations="""dv/dt = -(v - E_L)/tau_m + (I_ex + I_in + I_ext)/C_m : volt (unless refractory)
                     dI_ex/dt = -I_ex/tau_syn_ex : amp
                     dI_in/dt = -I_in/tau_syn_in : amp
                     I_ext : amp""",
        weight_unit="amp", on_pre="{channel}_post += {w}"),
    references=("Rotter S, Diesmann M (1999) Biol Cybern 81:381-402",),
)
