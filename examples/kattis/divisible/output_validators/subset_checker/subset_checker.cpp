// Output validator of Divisible Subset (Kattis convention: exit 42 accepts, 43 rejects).
// argv: input_file answer_file feedback_dir; the submission's output on stdin.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

static std::string feedback_dir;

[[noreturn]] static void reject(const std::string &message) {
    std::ofstream(feedback_dir + "/judgemessage.txt") << message << "\n";
    std::exit(43);
}

int main(int argc, char **argv) {
    if (argc < 4) return 1;
    feedback_dir = argv[3];
    std::ifstream input(argv[1]);
    long long n;
    input >> n;
    std::vector<long long> values(n);
    for (auto &v : values) input >> v;

    long long k;
    if (!(std::cin >> k)) reject("expected the count of chosen numbers");
    if (k < 1 || k > n) reject("the count must be between 1 and n, got " + std::to_string(k));
    std::vector<bool> used(n, false);
    long long sum = 0;
    for (long long i = 0; i < k; i++) {
        long long position;
        if (!(std::cin >> position)) reject("expected " + std::to_string(k) + " positions");
        if (position < 1 || position > n) reject("position out of range: " + std::to_string(position));
        if (used[position - 1]) reject("position chosen twice: " + std::to_string(position));
        used[position - 1] = true;
        sum = (sum + values[position - 1]) % n;
    }
    std::string extra;
    if (std::cin >> extra) reject("more output than the positions: " + extra.substr(0, 20));
    if (sum != 0) reject("the sum is not divisible by n (remainder " + std::to_string(sum) + ")");
    return 42;
}
