use std::io::Read;

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let gains: Vec<i64> = text.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
    let (mut best, mut current) = (gains[0], 0i64);
    for &gain in &gains {
        current = gain.max(current + gain);
        best = best.max(current);
    }
    println!("{}", best);
}
