#include <cstdlib>
#include <iostream>
#include <string>
int main() {
    std::cout << 500 << std::endl;
    std::string answer;
    std::cin >> answer;
    if (answer != "correct") std::abort();
}
