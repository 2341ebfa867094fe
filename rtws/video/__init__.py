"""Video in: cameras, image and video files, JPEG frames for the provider.

* :mod:`.frame` — :class:`VideoFrame` (what a provider receives) and the
  scale-and-encode step;
* :mod:`.sources` — where pictures come from (a still image, a looped video
  file, a real camera) behind one blocking ``read()``;
* :mod:`.cameras` — the camera list, selection and on/off switch a media
  manager exposes as ``get_all_cams`` / ``update_cam`` / ``enable_cam``;
* :mod:`.uplink` — the session task that captures at ``options.video_fps``,
  encodes in a worker thread and calls ``handle_user_video_frame``.

OpenCV (``pip install rtws[video]``) reads the files and cameras and encodes
the JPEGs; without it there are no cameras and ``camera=PATH`` says what to
install. docs/video.md says why OpenCV rather than PyAV.
"""

from .cameras import Cameras
from .frame import VideoFrame, encode_frame
from .sources import FrameSource, open_file_source, system_cameras, video_available

__all__ = [
    "Cameras",
    "FrameSource",
    "VideoFrame",
    "encode_frame",
    "open_file_source",
    "system_cameras",
    "video_available",
]
