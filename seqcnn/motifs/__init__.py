"""What the first-layer filters learned: filters -> PWMs -> MEME files -> known motifs.

The pipeline step after training, one topic per module:

- :mod:`~seqcnn.motifs.pwm`: each first-layer filter of a :class:`SeqCNN` becomes a
  position weight matrix by *activation alignment* (Basset, Kelley et al. 2016; Koo & Eddy
  2019), and what a PWM says (information content, trimming, consensus).
- :mod:`~seqcnn.motifs.meme`: MEME minimal format, read and written (the only MEME parser
  in seqcnn; :mod:`seqcnn.simulate` reads its motif files with it too).
- :mod:`~seqcnn.motifs.match`: comparison with known motifs (JASPAR, shipped with pyjaspar)
  by Tomtom (memelite), with Pearson-correlated columns as MEME's ``tomtom -dist pearson``.
- :mod:`~seqcnn.motifs.influence`: how much each filter matters for each output, by
  nullifying it (Basset).
- :mod:`~seqcnn.motifs.discovery`: motifs of any architecture, from DeepLIFT/SHAP
  attributions clustered by TF-MoDISco (:mod:`~seqcnn.motifs.modisco`, modisco-lite),
  matched like the filters; per output, over the sequences predicted for it
  (:mod:`~seqcnn.motifs.per_output`).

Every matrix is position-major, shape ``(w, 4)``, columns A, C, G, T, as in MEME files and
logomaker.  torch, pandas, memelite and pyjaspar are imported by the functions that need
them, so importing this package stays cheap.

Examples
--------
>>> motifs = filter_pwms(model, x)                          # doctest: +SKIP
>>> write_meme(motifs, "filters.meme", background=background_frequencies(x))  # doctest: +SKIP
>>> matches = match_motifs(motifs, "jaspar")                # doctest: +SKIP
>>> influence = filter_influence(model, x, transform=torch.sigmoid)  # doctest: +SKIP
"""

from seqcnn.alphabet import ALPHABET

from .discovery import Discovery, discover_motifs, pattern_table, write_discovery
from .influence import filter_influence
from .match import MATCH_COLUMNS, MATCH_DTYPES, jaspar_motifs, match_motifs, no_matches
from .meme import MemeFile, MemeMotif, format_meme, read_meme, read_meme_file, write_meme
from .modisco import DiscoverySettings, Pattern, discovery_settings, find_patterns
from .per_output import output_rows, predicted_rows
from .pwm import (
    FilterMotif,
    background_frequencies,
    consensus,
    filter_pwms,
    information_content,
    trim_pwm,
    write_pfm_tsv,
)

__all__ = [
    "ALPHABET",
    "FilterMotif",
    "filter_pwms",
    "background_frequencies",
    "information_content",
    "trim_pwm",
    "consensus",
    "MemeFile",
    "MemeMotif",
    "read_meme_file",
    "format_meme",
    "write_meme",
    "read_meme",
    "write_pfm_tsv",
    "jaspar_motifs",
    "match_motifs",
    "no_matches",
    "MATCH_COLUMNS",
    "MATCH_DTYPES",
    "filter_influence",
    "Pattern",
    "Discovery",
    "DiscoverySettings",
    "discover_motifs",
    "discovery_settings",
    "find_patterns",
    "output_rows",
    "pattern_table",
    "predicted_rows",
    "write_discovery",
]
