"""Reading microscopy files for ``bioimaging-guide segment``: axes, pixel size, and the planes to segment."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from bioimaging_guide.images import InputError, planes, read_image


def noise(shape, dtype=np.uint16, seed=0):
    return np.random.default_rng(seed).integers(0, 200, size=shape).astype(dtype)


def test_imagej_time_lapse_is_segmented_frame_by_frame(tmp_path):
    path = tmp_path / "movie.tif"
    data = noise((48, 16, 20))
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX"})
    image = read_image(path)
    assert (image.axes, image.axes_source, image.pixel_size_um) == ("TYX", "ImageJ", None)
    result, what = planes(image)
    assert len(result) == 48 and all(p.shape == (16, 20) for p in result)
    np.testing.assert_array_equal(result[7], data[7])
    assert "48 time points" in what
    with pytest.raises(InputError, match="merges all time points"):
        planes(image, max_projection=True)


def test_imagej_hyperstack_with_z_and_channels(tmp_path):
    path = tmp_path / "stack.tif"
    data = noise((4, 2, 16, 20))
    metadata = {"axes": "ZCYX", "spacing": 2.0, "unit": "um", "Labels": ["nuclei", "membrane"] * 4}
    tifffile.imwrite(path, data, imagej=True, metadata=metadata, resolution=(1 / 0.65, 1 / 0.65))
    image = read_image(path)
    assert (image.axes, image.axes_source) == ("ZCYX", "ImageJ")
    assert image.pixel_size_um == pytest.approx(0.65, rel=1e-4)
    assert image.channel_names == ("nuclei", "membrane")
    with pytest.raises(InputError, match=r"2 channels \(channel 0 'nuclei', channel 1 'membrane'\).*--channel N"):
        planes(image)
    with pytest.raises(InputError, match="never channels"):
        planes(image, max_projection=True)
    result, what = planes(image, channel=1)
    assert len(result) == 4 and "channel 1 'membrane' of 2" in what and "4 z-planes" in what
    np.testing.assert_array_equal(result[2], data[2, 1])
    (projection,), what = planes(image, channel=0, max_projection=True)
    np.testing.assert_array_equal(projection, data[:, 0].max(axis=0))
    assert "maximum projection of 4 z-planes" in what


def test_time_lapse_of_z_stacks_is_time_major(tmp_path):
    path = tmp_path / "tz.tif"
    data = noise((3, 2, 16, 20))
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZYX"})
    result, what = planes(read_image(path))
    assert len(result) == 6 and "3 time points × 2 z-planes" in what
    np.testing.assert_array_equal(result[3], data[1, 1])
    result, what = planes(read_image(path), max_projection=True)
    assert len(result) == 3 and "3 time points" in what
    np.testing.assert_array_equal(result[1], data[1].max(axis=0))


def test_ome_tiff_channel_names_and_pixel_size(tmp_path):
    path = tmp_path / "cells.ome.tif"
    data = noise((2, 16, 20))
    metadata = {
        "axes": "CYX",
        "PhysicalSizeX": 0.325,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": 0.325,
        "Channel": {"Name": ["DAPI", "GFP"]},
    }
    tifffile.imwrite(path, data, ome=True, metadata=metadata)
    image = read_image(path)
    assert (image.axes, image.axes_source, image.channel_names) == ("CYX", "OME-XML", ("DAPI", "GFP"))
    assert image.pixel_size_um == pytest.approx(0.325)
    with pytest.raises(InputError, match="channel 0 'DAPI', channel 1 'GFP'"):
        planes(image)
    with pytest.raises(InputError, match="choose 0 to 1"):
        planes(image, channel=2)
    (plane,), what = planes(image, channel=0)
    np.testing.assert_array_equal(plane, data[0])
    assert what == "channel 0 'DAPI' of 2"


def test_ome_pixel_size_in_nanometres_and_not_square(tmp_path):
    path = tmp_path / "nm.ome.tif"
    tifffile.imwrite(path, noise((16, 20)), ome=True, metadata={"PhysicalSizeX": 325, "PhysicalSizeXUnit": "nm"})
    assert read_image(path).pixel_size_um == pytest.approx(0.325)
    path = tmp_path / "oblong.ome.tif"
    tifffile.imwrite(path, noise((16, 20)), ome=True, metadata={"PhysicalSizeX": 0.3, "PhysicalSizeY": 0.6})
    image = read_image(path)
    assert image.pixel_size_um is None and "not square" in image.pixel_size_source


def test_plain_three_channel_tiff_is_guessed_as_channels(tmp_path):
    path = tmp_path / "plain.tif"
    data = noise((3, 16, 20))
    tifffile.imwrite(path, data, photometric="minisblack")
    image = read_image(path)
    assert (image.axes, image.axes_source, image.channel_names) == ("CYX", "guessed", ())
    with pytest.raises(InputError, match=r"3 channels \(channel 0, channel 1, channel 2\)"):
        planes(image)
    (plane,), _ = planes(image, channel=2)
    np.testing.assert_array_equal(plane, data[2])


def test_many_planes_without_metadata_are_of_unknown_kind(tmp_path):
    path = tmp_path / "planes.tif"
    data = noise((12, 16, 20))
    tifffile.imwrite(path, data, photometric="minisblack")
    image = read_image(path)
    assert (image.axes, image.axes_source) == ("QYX", "guessed")
    result, what = planes(image)
    assert len(result) == 12 and "unknown kind" in what
    (projection,), what = planes(image, max_projection=True)
    np.testing.assert_array_equal(projection, data.max(axis=0))
    assert "guessed" in what


def test_four_axes_without_metadata_are_refused(tmp_path):
    path = tmp_path / "4d.tif"
    tifffile.imwrite(path, noise((2, 3, 16, 20)), photometric="minisblack")
    with pytest.raises(InputError, match="OME-TIFF"):
        read_image(path)


def test_rgb_png_needs_a_choice(tmp_path):
    path = tmp_path / "histology.png"
    rgb = noise((16, 20, 3), np.uint8)
    iio.imwrite(path, rgb)
    image = read_image(path)
    assert (image.axes, image.axes_source, image.pixel_size_um) == ("YXS", "PNG", None)
    with pytest.raises(InputError, match="colour image.*--channel N.*--rgb-to-gray"):
        planes(image)
    (green,), what = planes(image, channel=1)
    np.testing.assert_array_equal(green, rgb[..., 1])
    assert "green" in what
    (grey,), what = planes(image, rgb_to_gray=True)
    assert grey.shape == (16, 20) and "luminance" in what
    assert grey[0, 0] == pytest.approx((rgb[0, 0] @ [0.2125, 0.7154, 0.0721]) / 255)
    with pytest.raises(InputError, match="not both"):
        planes(image, channel=0, rgb_to_gray=True)


def test_rgba_alpha_is_not_a_channel_and_grey_saved_as_colour_is_pointed_out(tmp_path):
    path = tmp_path / "rgba.png"
    grey = noise((16, 20), np.uint8)
    iio.imwrite(path, np.dstack([grey, grey, grey, np.full_like(grey, 255)]))
    image = read_image(path)
    with pytest.raises(InputError, match="colours are identical"):
        planes(image)
    with pytest.raises(InputError, match="not a colour of this image"):
        planes(image, channel=3)


def test_grey_png_and_options_that_do_not_apply(tmp_path):
    path = tmp_path / "grey.png"
    grey = noise((16, 20), np.uint8)
    iio.imwrite(path, grey)
    image = read_image(path)
    assert image.axes == "YX"
    (plane,), what = planes(image)
    np.testing.assert_array_equal(plane, grey)
    assert what == "a single 2D image"
    with pytest.raises(InputError, match="single-channel"):
        planes(image, channel=0)
    with pytest.raises(InputError, match="not a colour image"):
        planes(image, rgb_to_gray=True)
    with pytest.raises(InputError, match="nothing to project"):
        planes(image, max_projection=True)


def test_pixel_size_from_tiff_resolution(tmp_path):
    path = tmp_path / "cm.tif"
    tifffile.imwrite(path, noise((16, 20)), resolution=(1e4 / 0.5, 1e4 / 0.5), resolutionunit="CENTIMETER")
    image = read_image(path)
    assert (image.axes, image.axes_source) == ("YX", "TIFF")
    assert image.pixel_size_um == pytest.approx(0.5)
    path = tmp_path / "inch.tif"
    tifffile.imwrite(path, noise((16, 20)), resolution=(25400 / 0.2, 25400 / 0.2), resolutionunit="INCH")
    assert read_image(path).pixel_size_um == pytest.approx(0.2)
    path = tmp_path / "dpi.tif"
    tifffile.imwrite(path, noise((16, 20)), resolution=(72, 72), resolutionunit="INCH")
    image = read_image(path)
    assert image.pixel_size_um is None and "default" in image.pixel_size_source


def test_no_pixel_size(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, noise((16, 20)))
    image = read_image(path)
    assert image.pixel_size_um is None and "does not record" in image.pixel_size_source


def test_bad_files_are_refused(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(InputError, match="cannot read"):
        read_image(tmp_path / "broken.tif")
    tifffile.imwrite(tmp_path / "flat.tif", np.full((16, 20), 7, np.uint16))
    with pytest.raises(InputError, match="same value"):
        planes(read_image(tmp_path / "flat.tif"))
    tifffile.imwrite(tmp_path / "tiny.tif", noise((4, 20)))
    with pytest.raises(InputError, match="too small"):
        planes(read_image(tmp_path / "tiny.tif"))
    movie = noise((3, 16, 20))
    movie[1] = 0  # an empty frame in a time-lapse is fine
    tifffile.imwrite(tmp_path / "gap.tif", movie, imagej=True, metadata={"axes": "TYX"})
    assert len(planes(read_image(tmp_path / "gap.tif"))[0]) == 3


def test_bbbc022_saved_as_plain_tiff(tmp_path, real_data):
    from bioimaging_guide.data import fetch, load_bbbc022

    image, names = load_bbbc022()
    path = tmp_path / "bbbc022.tif"
    tifffile.imwrite(path, image)  # as a reader would save it; older tifffile versions mark it as planar RGB
    read = read_image(path)
    assert (read.axes, read.axes_source) == ("CYX", "guessed")
    with pytest.raises(InputError, match="3 channels.*--channel N"):
        planes(read)
    (hoechst,), what = planes(read, channel=0)
    assert names[0].startswith("Hoechst") and what == "channel 0 of 3"
    np.testing.assert_array_equal(hoechst, image[0])
    original = read_image(fetch("bbbc022", "IXMtest_A02_s9.tif"))  # an ImageJ file naming each channel
    assert (original.axes, original.axes_source) == ("CYX", "ImageJ")
    assert original.channel_names[0] == "IXMtest_A02_s9_c1.tif"


def test_mitosis_time_lapse_saved_with_imagej_axes(tmp_path, real_data):
    from bioimaging_guide.data import load_mitosis_timelapse

    movie = load_mitosis_timelapse()
    path = tmp_path / "mitosis.tif"
    tifffile.imwrite(path, movie, imagej=True, metadata={"axes": "TYX"})
    result, what = planes(read_image(path))
    assert len(result) == 48 and "48 time points" in what
    np.testing.assert_array_equal(result[47], movie[47])
