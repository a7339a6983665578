"""``seqcnn interpret``: what a trained model learned, as motifs, logos and one report.

This package only orchestrates (:mod:`~seqcnn.interpret.run` holds :func:`interpret`,
:mod:`~seqcnn.interpret.steps` its checks, the per-filter table and the report's summary);
every step is a function of another module::

    sequences --(inputs.read_codes)--> codes --(onehot)--> one-hot
          --(motifs.filter_pwms)--> PWMs per first-layer filter
          --(motifs.write_meme / write_pfm_tsv)--> filters.meme, matrices/
          --(motifs.filter_influence)--> influence of each filter on each output
          --(attribution.attribution)--> attribution.npz
          --(motifs.match_motifs)--> JASPAR (or --motif-db) matches
          --(plots.draw_filter_logos / write_overview)--> logos/, overview.png
          --(plots.draw_attribution_maps)--> attribution/
          --(report.write_report)--> report.html

Everything is written into a temporary folder beside ``out`` that is renamed to ``out``
once complete, so a failed run leaves nothing behind.  The layout::

    OUT/
      report.html            one self-contained page (images inlined, no network needed)
      filters.tsv            one row per filter: consensus, sites, information, best match,
                             influence
      matches.tsv            every match kept (up to ``n_matches`` per filter)
      filters.meme           the exported filters (>= min_sites sites), MEME format 4,
                             background from the input sequences
      matrices/filter_<i>.pfm, .tsv   counts (JASPAR pfm) and probabilities, exported filters
      logos/filter_<i>.png   one logo per filter (+ .svg / .pdf with ``formats``)
      overview.png           all logos in one grid, most influential (or informative) first
      attribution.npz        with ``attribution``: ids, one_hot, scores (N, 4, L)
      attribution/<id>.png   its attribution logos

Which sequences
---------------
Sequences are read by :func:`seqcnn.inputs.read_codes` (the reader, letters and errors of
``seqcnn encode`` and ``predict``; duplicate ids are an error), padded with N or cropped,
centred, to the model's input length and one-hot encoded with the model's N encoding.  At
most ``max_sequences`` of them (default 10,000) are used for PWMs, the background and
influence: a uniform random sample drawn with a fixed seed (reservoir sampling while
reading, kept in file order), so the result is deterministic and does not depend on how
the file is sorted; the whole file is still read and checked.  10,000 sequences give a
64-filter model hundreds of sites per useful filter, while influence, which runs the
network once per filter, stays at seconds.  Sequences longer than the model's input are
cropped, with a warning saying how many.  Attribution maps are drawn for the
``attribution_sequences`` sequences of the sample that the model scores highest for the
target output: those that hold what the output responds to.

The report shows the logos of the first 12 filters of its table (most influential first)
at a size where their titles read, and the table's main columns (for several outputs, the
largest influence over them); a switch shows the other columns.

Drawing is the slow part; :mod:`seqcnn.plots.gallery` draws each logo once and makes the
overview from the same pixels.
"""

from .run import OVERVIEW_ORDERS, InterpretResult, interpret

__all__ = ["InterpretResult", "interpret", "OVERVIEW_ORDERS"]
