"""Descriptions of what a data set is made of: one upstream archive, or single files."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RemoteArchive:
    """Where a data set's upstream archive lives and how to check it.

    Attributes:
        name: The data set's folder name in a mirror or the cache (``"ml-100k"``).
        url: URL of the archive (``https://``, ``http://`` or ``file://``).
        archive_folder: The top folder inside the archive when it differs from
            ``name`` (``"ml-10M100K"`` for ``ml-10m.zip``); ``""`` when the files
            sit at the archive's top level.
        md5: Known MD5 of the archive, if any (never guessed): the publisher's value.
        sha256: Known SHA-256 of the archive, if any.
        size: Known size in bytes, if any.
        md5_url: URL of a published checksum file (GroupLens puts
            ``<archive>.md5`` next to each MovieLens zip); fetched before a
            download when ``md5`` is not known. When it cannot be fetched the
            download is refused unless unverified archives are allowed.
        aliases: Other names the extracted folder may have.
    """

    name: str
    url: str
    archive_folder: str | None = None
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    md5_url: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        """The archive's file name, taken from the URL."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def folder_names(self) -> tuple[str, ...]:
        """Names the extracted folder may have (``name`` first)."""
        names = [self.name]
        if self.archive_folder:
            names.append(self.archive_folder)
        names.extend(self.aliases)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class RemoteFile:
    """One file published on its own (not inside an archive) and how to check it.

    Attributes:
        filename: The file's name in the data set folder (``"train.csv"``).
        url: Where to download it (``https://``, ``http://`` or ``file://``); pin a
            commit or version in the URL so the checksum stays true.
        sha256: Known SHA-256 of the file, if any (never guessed).
        size: Known size in bytes, if any.
    """

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
