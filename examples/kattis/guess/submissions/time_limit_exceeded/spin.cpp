int main() {
    volatile unsigned long n = 0;
    while (true) n++;
}
