#include <iostream>
#include <string>
int main() {
    int lo = 1, hi = 1000;
    std::string answer;
    while (true) {
        int guess = (lo + hi) / 2;
        std::cout << guess << std::endl;
        if (!(std::cin >> answer) || answer == "correct") break;
        if (answer == "lower") hi = guess - 1; else lo = guess + 1;
    }
}
