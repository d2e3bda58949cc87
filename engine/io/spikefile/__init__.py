"""Streaming spike files: SONATA spike-report layout in HDF5, written while a simulation runs, read by time window.

Layout
------
::

    /                                    attrs: magic=0x0A7A, version=[0, 1]      (SONATA file markers)
                                                format="pond-spikes", format_version=1, pond_version,
                                                dt_ms, duration_ms, seed (absent when None), n_trials,
                                                model_json, population_names, population_sizes,
                                                created (ISO 8601, UTC), t_recorded_ms, complete, **extra_attrs
    /spikes/<population>/                attrs: sorting (HDF5 enum none=0/by_id=1/by_time=2), size,
                                                n_spikes (written at close; readers use the dataset length)
    /spikes/<population>/timestamps      float64 [n], attrs: units="ms"    (chunked, resizable, uncompressed)
    /spikes/<population>/node_ids        uint64  [n], node ids local to the population, 0-based
    /trials/<k>/spikes/<population>/...  the same layout for batch trial k >= 1
    /monitors/rate/<population>          int32 [trials, steps], spikes per step (``pond run``'s rate monitors)
    /monitors/state/<population>/<var>   float64 [trials, samples, neurons], attrs: units, indices
    /monitors/state/<population>/times   float64 [samples], ms           (``pond run``'s state monitors)

**Trials.** Trial 0 is stored at the standard SONATA place ``/spikes/<population>``, so any SONATA reader
(libsonata, bmtk) opens a single-trial file, and trial 0 of a batch file, as an ordinary spike report. Trial ``k >= 1``
of a batch run gets its own group ``/trials/<k>/spikes/<population>`` with exactly the same datasets and attributes.
One group per trial (rather than a trial-index dataset) keeps every trial sorted by time on its own, so a time window
of one trial is two binary searches and one contiguous read, and the trials never interleave in the standard datasets.

**SONATA readers.** The root attributes ``magic`` (uint32 0x0A7A) and ``version`` (two uint32), the population
groups under ``/spikes`` with their ``sorting`` enum, float64 ``timestamps`` with a string ``units`` attribute and
uint64 ``node_ids`` are those of the SONATA spike-file specification; everything else is an addition that SONATA
readers ignore. Datasets are uncompressed by default, because a compressed dataset can only be read by an HDF5
library built with its filter, and libsonata's PyPI wheels have none (they fail with "Unable to read the dataset
(Plugin for dynamically loaded library)"). ``SpikeFileWriter(compression="gzip")`` makes files several times smaller
for readers that have zlib (h5py, pond).

**Streaming and durability.** :class:`SpikeFileWriter` keeps the spikes handed to :meth:`SpikeFileWriter.write` in
memory and touches the HDF5 file only in :meth:`SpikeFileWriter.flush`, which appends every buffer to the datasets and
then flushes the file to disk. A flush happens at most ``flush_interval_s`` of wall time after the previous one (checked
on every ``write`` and ``advance``), or earlier when the buffers hold more than about a million spikes; the HDF5
chunk caches of all datasets share a fixed budget, so memory stays bounded however long the run or many the trials.
Since the file is only modified inside a flush, a process killed outright (SIGKILL) leaves a file h5py opens, holding
every spike up to the last flush. The root attribute ``complete`` is written ``False`` when the file is created and set
to ``True`` only by ``close(complete=True)``; an interrupted run (``close(complete=False)``, Ctrl-C inside a ``with``
block) still writes all buffered spikes.

**One stated time.** The root attribute ``t_recorded_ms`` is the simulated time up to which (exclusive) every
population and trial is recorded: the time the driver last declared with :meth:`SpikeFileWriter.advance` (the
simulator does so after every chunk). A flush writes the spikes, flushes the file, and only then writes the new
stated time and flushes again. Readers show an incomplete file up to its stated time and no further, so a kill in the
middle of a flush, or spikes flushed early to bound memory, never leave one population ahead of another. Readers use
the shorter of ``timestamps`` and ``node_ids`` if a kill hit the middle of a flush.

**Finished trials.** A driver that runs whole trials rather than time slices (blocks of trials on Dask workers,
:func:`engine.parallel.distributed.run_trials`) declares each finished trial with :meth:`SpikeFileWriter.end_trial`; the next
flush, once the trial's spikes are on disk, writes ``complete = True`` on the trial's spikes group (``/spikes`` or
``/trials/<k>/spikes``), and readers show such a trial of an incomplete file in full, whatever its stated time.

Units: times in ms, rates in Hz.
"""
from engine.io.spikefile._format import FORMAT, FORMAT_VERSION, SORTING_DTYPE, SpikeFileError
from engine.io.spikefile.reader import SpikeFileReader, file_info, read_spikes, spike_trains
from engine.io.spikefile.writer import SpikeFileWriter

__all__ = ["FORMAT", "FORMAT_VERSION", "SORTING_DTYPE", "SpikeFileError", "SpikeFileWriter", "SpikeFileReader",
           "read_spikes", "spike_trains", "file_info"]
