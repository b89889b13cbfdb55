// The k most frequent words of a text (bad: never stops when the text has no words).
#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

int main()
{
    std::size_t k = 0;
    if (!(std::cin >> k)) {
        std::cout << "error: the first line must be a number\n";
        return 1;
    }
    std::map<std::string, long> counts;
    std::string word;
    char c;
    while (std::cin.get(c)) {
        if (std::isalpha(static_cast<unsigned char>(c))) {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!word.empty()) {
            ++counts[word];
            word.clear();
        }
    }
    if (!word.empty())
        ++counts[word];
    // keep reading until a word turns up: never ends on a text without words
    while (counts.empty()) {
        std::cin.clear();
        if (std::cin.get(c) && std::isalpha(static_cast<unsigned char>(c)))
            ++counts[std::string(1, c)];
    }

    std::vector<std::pair<std::string, long>> ranked(counts.begin(), counts.end());
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    for (std::size_t i = 0; i < k && i < ranked.size(); ++i)
        std::cout << ranked[i].first << ' ' << ranked[i].second << '\n';
    return 0;
}
