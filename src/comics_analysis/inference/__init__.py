"""Model loading and model inference: the one home of both (issue 15).

Import what you need from the submodules (torch and transformers are imported where used):

- :mod:`.closure_lite`: the single Closure Lite loader (:func:`~.closure_lite.load_closure_lite`,
  a folder or a Hub name, revision recorded), page / panel embedding for a store
  (:class:`~.closure_lite.ModelEmbedder`), text and image query vectors, the text tower as an
  encoder;
- :mod:`.text`: the single mean-pooled Hugging Face text encoder (:class:`~.text.TextEncoder`;
  ``"minilm"`` is the offline package, checked by SHA-256);
- :mod:`.vision`: the page vision encoder of PSS features (:class:`~.vision.VisionEncoder`);
- :mod:`.features`: PSS page features and their Zarr cache (:class:`~.features.FeatureStore`,
  :func:`~.features.extract_features`);
- :mod:`.page_stats`: layout / text statistics of a page (panels, text density, prose, prices,
  indicia, title lettering), cached with the PSS features (``--page-stats``);
- :mod:`.zeroshot`: the zero-shot page stream segmenter (rules, position priors, MiniLM similarity
  to class descriptions, Viterbi), the default of ``segment`` without a model;
- :mod:`.pss`: CoSMo PSS loading, per-book prediction, segments and the ``segment`` job
  (:func:`~.pss.segment_books`).

Training builds and saves the models it trains and uses these encoders; store, benchmarks,
analysis, the Space and the CLI load models only through this package.
"""
