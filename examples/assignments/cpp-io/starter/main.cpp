// The k most frequent words of a text. Read statement.md first.
#include <iostream>
#include <string>

int main()
{
    std::size_t k = 0;
    std::cin >> k;
    // TODO: count the words (letters only, case-insensitive) and print the k most
    // frequent ones with their counts, most frequent first, ties in alphabetical order.
    return 0;
}
