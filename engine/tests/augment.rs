//! Augmentations do what their names say.

use dlwb_engine::data::transform::{crop, flip_horizontal, flip_vertical};

fn image() -> Vec<f32> {
    // 2 channels of 3x4: value = 100*c + 10*y + x.
    (0..2)
        .flat_map(|c| (0..3).flat_map(move |y| (0..4).map(move |x| (100 * c + 10 * y + x) as f32)))
        .collect()
}

#[test]
fn a_horizontal_flip_mirrors_every_row_of_every_channel() {
    let mut img = image();
    flip_horizontal(&mut img, [2, 3, 4]);
    assert_eq!(&img[..4], &[3.0, 2.0, 1.0, 0.0]);
    assert_eq!(&img[12..16], &[103.0, 102.0, 101.0, 100.0]);
    flip_horizontal(&mut img, [2, 3, 4]);
    assert_eq!(img, image(), "flipping twice restores the image");
}

#[test]
fn a_vertical_flip_reverses_the_rows() {
    let mut img = image();
    flip_vertical(&mut img, [2, 3, 4]);
    assert_eq!(&img[..4], &[20.0, 21.0, 22.0, 23.0]);
    assert_eq!(&img[8..12], &[0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn a_crop_keeps_the_shape_and_moves_the_content() {
    let mut img = image();
    let mut scratch = vec![0.0; img.len()];
    // Output (y, x) reads input (y + 1, x - 2): content moves up 1, right 2.
    crop(&mut img, &mut scratch, [2, 3, 4], 1, -2);
    assert_eq!(img.len(), 24);
    assert_eq!(&img[..4], &[0.0, 0.0, 10.0, 11.0]);
    assert_eq!(&img[4..8], &[0.0, 0.0, 20.0, 21.0]);
    assert_eq!(
        &img[8..12],
        &[0.0, 0.0, 0.0, 0.0],
        "below the image is padding"
    );
    assert_eq!(&img[12..16], &[0.0, 0.0, 110.0, 111.0]);
    let mut same = image();
    crop(&mut same, &mut scratch, [2, 3, 4], 0, 0);
    assert_eq!(same, image());
}
