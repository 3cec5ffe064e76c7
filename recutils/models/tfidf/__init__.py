"""Content-based recommendation from item text with TF-IDF (:class:`TfidfRecommender`)."""

from recutils.models.tfidf.model import TfidfConfig, TfidfRecommender, item_documents

__all__ = ["TfidfConfig", "TfidfRecommender", "item_documents"]
